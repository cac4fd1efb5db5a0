import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** The tests that need no Redis (test/unit): what mutation testing (stryker.config.mjs) runs against each mutant. */
export default defineConfig({
  resolve: {
    // As in vitest.config.ts: the CLI package (codegen/) imports the runtime by its package name, here from src/.
    alias: [
      { find: /^jobcraft$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
      { find: /^jobcraft\/schema$/, replacement: fileURLToPath(new URL('./src/schema.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['test/unit/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
  },
});
