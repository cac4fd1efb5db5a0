/**
 * Hand-made mutations of the Lua scripts (npm run mutation:lua): each one breaks a guarantee the way a careless edit
 * would — the ack fence, the unique lock's release, the concurrency cap's expiry — and the test files that guard it
 * must then fail. Applies one mutation at a time in place, runs the relevant tests, restores the file (also on
 * Ctrl-C), and prints caught / NOT CAUGHT per mutation. Exits 1 if any mutation is not caught, or if the tests fail
 * with no mutation applied (then nothing can be concluded).
 * Stryker (npm run mutation) covers the pure TypeScript modules; it cannot mutate Lua.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Mutation {
  readonly name: string;
  /** Path under src/lua. */
  readonly file: string;
  readonly find: string;
  readonly replace: string;
  /** Test files that must fail with the mutation applied. */
  readonly tests: readonly string[];
}

const MUTATIONS: readonly Mutation[] = [
  {
    name: 'fence removed in holds() (renew, retry, dead letter accept any holder)',
    file: '_lib.lua',
    find: "local function holds(active, attempts, id, att)\n",
    replace: "local function holds(active, attempts, id, att)\n  do return true end\n",
    tests: ['test/claims-fencing.test.ts'],
  },
  {
    name: 'fence removed from the acknowledgements of fetch.lua (ack_completed)',
    file: '_lib.lua',
    find: '    if leased[i] and atts[i] == att then',
    replace: '    if true then',
    tests: ['test/claims-fencing.test.ts'],
  },
  {
    name: 'the attempts hash written without its encoding guard (listpack again: every lease and ack scans it)',
    file: '_lib.lua',
    find: "  local counts = { ATTEMPTS_GUARD, '0' }",
    replace: '  local counts = {}',
    tests: ['test/attempts-encoding.test.ts'],
  },
  {
    name: 'the attempts hash deleted whatever it still holds (drop_attempts: other leases lose their fence)',
    file: '_lib.lua',
    find: "  if redis.call('HLEN', attempts) == 1 and redis.call('HEXISTS', attempts, ATTEMPTS_GUARD) == 1 then",
    replace: '  if true then',
    tests: ['test/mixed-acks.test.ts'],
  },
  {
    name: 'unique lock never released',
    file: '_lib.lua',
    find: "  if redis.call('GET', lock) == id then redis.call('DEL', lock) end",
    replace: '  -- mutation: release removed',
    tests: ['test/unique.test.ts'],
  },
  {
    name: "unique lock always released (even another job's)",
    file: '_lib.lua',
    find: "  if redis.call('GET', lock) == id then redis.call('DEL', lock) end",
    replace: "  redis.call('DEL', lock)",
    tests: ['test/claims-retention.test.ts'],
  },
  {
    name: 'expired slots in a capped type’s running set ignored (allowance)',
    file: '_lib.lua',
    find: "    redis.call('ZREMRANGEBYSCORE', ty.running, '-inf', now) -- slots of expired leases come back (self-healing)",
    replace: '    -- mutation: expired slots kept',
    tests: ['test/claims-throttling.test.ts'],
  },
  {
    name: 'error history one over its cap (earlier_of)',
    file: '_lib.lua',
    find: '  local items = earlier_items(rec.earlier, MAX_EARLIER_ERRORS - 1)',
    replace: '  local items = earlier_items(rec.earlier, MAX_EARLIER_ERRORS)',
    tests: ['test/error-history.test.ts'],
  },
  {
    name: 'errors of the history not cut to their size bound (error_json)',
    file: '_lib.lua',
    find: '  if #json > max_bytes then\n    t.stack = nil',
    replace: '  if false then\n    t.stack = nil',
    tests: ['test/error-history.test.ts'],
  },
  {
    name: 'dead letter without the error history (dead.lua)',
    file: 'dead.lua',
    find: "local info = with_earlier(A.info, earlier_of(redis.call('HGET', K.errors, id)))",
    replace: 'local info = A.info',
    tests: ['test/error-history.test.ts'],
  },
  {
    name: 'a dead letter put back loses its error history (dead-retry.lua)',
    file: 'dead-retry.lua',
    find: "    if rec then redis.pcall('HSET', K.errors, id, rec) end",
    replace: '    -- mutation: history dropped',
    tests: ['test/error-history.test.ts'],
  },
  {
    name: 'migrate.lua rewrites without comparing the stored text (a job finished meanwhile is re-created)',
    file: 'migrate.lua',
    find: "  elseif redis.call('HGET', K.hash, id) == G.items.expected(i) then",
    replace: '  elseif G.items.expected(i) then',
    tests: ['test/admin-migrate.test.ts'],
  },
  {
    name: 'migrate.lua rewrites a leased job',
    file: 'migrate.lua',
    find: "  if redis.call('ZSCORE', K.active, id) then",
    replace: '  if false then',
    tests: ['test/admin-migrate.test.ts'],
  },
];

function runTests(files: readonly string[]): boolean {
  const res = spawnSync('npx', ['vitest', 'run', ...files], { cwd: ROOT, stdio: ['ignore', 'ignore', 'ignore'], timeout: 300_000 });
  return res.status === 0;
}

let restore: (() => void) | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    restore?.();
    process.exit(130);
  });
}

const files = [...new Set(MUTATIONS.flatMap((m) => m.tests))];
process.stdout.write(`baseline: ${files.join(' ')} … `);
if (!runTests(files)) {
  process.stdout.write('FAIL\nThe tests fail with no mutation applied: fix them first.\n');
  process.exit(1);
}
process.stdout.write('pass\n');

let missed = 0;
for (const m of MUTATIONS) {
  const path = join(ROOT, 'src', 'lua', m.file);
  const original = readFileSync(path, 'utf8');
  if (!original.includes(m.find)) {
    process.stdout.write(`STALE     ${m.name}: the text to mutate is no longer in src/lua/${m.file}; update scripts/mutate-lua.ts\n`);
    missed++;
    continue;
  }
  restore = () => writeFileSync(path, original);
  writeFileSync(path, original.replace(m.find, m.replace));
  let passed: boolean;
  try {
    passed = runTests(m.tests);
  } finally {
    restore();
    restore = undefined;
  }
  if (passed) missed++;
  process.stdout.write(`${passed ? 'NOT CAUGHT' : 'caught    '} ${m.name}  (${m.tests.join(' ')})\n`);
}
process.stdout.write(`${MUTATIONS.length - missed} of ${MUTATIONS.length} Lua mutations caught\n`);
process.exit(missed === 0 ? 0 : 1);
