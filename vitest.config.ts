import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** As in tsconfig.json: the CLI package (codegen/) imports the runtime by its package name, here from src/. Shared with vitest.unit.config.ts. */
export const alias = [
  { find: /^jobcraft$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
  { find: /^jobcraft\/schema$/, replacement: fileURLToPath(new URL('./src/schema.ts', import.meta.url)) },
  { find: /^jobcraft\/rules$/, replacement: fileURLToPath(new URL('./src/rules.ts', import.meta.url)) },
];

export default defineConfig({
  resolve: { alias },
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
