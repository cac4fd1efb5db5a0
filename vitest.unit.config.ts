import { defineConfig } from 'vitest/config';

/** The tests that need no Redis (test/unit): what mutation testing (stryker.config.mjs) runs against each mutant. */
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
  },
});
