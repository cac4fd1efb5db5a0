import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: a few files at a time, each in its own process (some tests spawn workers and redis-servers).
    pool: 'forks',
    maxWorkers: 3,
  },
});
