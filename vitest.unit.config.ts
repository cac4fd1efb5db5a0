import { defineConfig } from 'vitest/config';
import { alias } from './vitest.config.js';

/** The tests that need no Redis (test/unit): what mutation testing (stryker.config.mjs) runs against each mutant. */
export default defineConfig({
  resolve: { alias },
  test: {
    include: ['test/unit/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
  },
});
