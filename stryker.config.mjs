// Mutation testing of the pure logic (npm run mutation): each mutant is run against the Redis-free unit tests in
// test/unit. The worker's pure parts are src/worker/slots.ts and leases.ts (test/unit/slots.test.ts,
// leases.test.ts); the Lua scripts get hand-made mutations instead (npm run mutation:lua).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.unit.config.ts' },
  mutate: ['src/backoff.ts', 'src/durations.ts', 'src/define.ts', 'src/job-options.ts', 'src/rules.ts', 'src/job-name.ts', 'src/payload.ts', 'src/worker/slots.ts', 'src/worker/leases.ts'],
  plugins: ['@stryker-mutator/vitest-runner'],
  checkers: [],
  reporters: ['clear-text', 'progress'],
  concurrency: 2,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  thresholds: { high: 90, low: 80, break: 75 },
};
