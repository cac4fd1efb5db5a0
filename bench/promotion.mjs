/**
 * How much of what a process allocates V8 promotes to the old generation (copies out of the young generation as
 * still alive after two scavenges) when it awaits batch replies through ioredis one call at a time, as a jobcraft
 * worker's fetch loop does: the evidence behind "Memory, round 3" in docs/benchmarks.md. Each case runs in a fresh
 * `node --trace-gc-nvp` process; the parent sums the scavenges' `allocated` and `promoted` bytes after the first five
 * (start-up) and prints the share.
 *
 *   node bench/promotion.mjs            every case (Redis at REDIS_URL, default redis://127.0.0.1:6379)
 *   node bench/promotion.mjs --case X   one case, in this process
 *
 * Cases (3,000 EVAL calls each, awaited one at a time, every reply read and dropped):
 *   ioredis-100       replies of 100 "jobs" of 3 strings each (id, envelope, attempt): a jobcraft fetch under load
 *   ioredis-100-emptied  the same, emptying each reply array (`reply.length = 0`) once read, as Scripts.fetch does
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CASES = ['ioredis-100', 'ioredis-100-emptied'];
const ROUNDS = 3_000;

async function ioredisCase(jobs, empty) {
  const { Redis } = await import('ioredis');
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const lua =
    "local out = {} for i = 1, tonumber(ARGV[1]) do out[#out+1] = 'bench#' .. i; out[#out+1] = '{\"n\":\"task\",\"t\":1796242842320,\"p\":{\"i\":' .. i .. ',\"at\":0}}'; out[#out+1] = 1 end return out";
  let sink = 0;
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const reply = await redis.eval(lua, 0, jobs);
      sink += reply.length;
      if (empty) reply.length = 0;
    }
  } finally {
    redis.disconnect();
  }
  return sink;
}

async function runCase(name) {
  if (name === 'ioredis-100') return ioredisCase(100, false);
  if (name === 'ioredis-100-emptied') return ioredisCase(100, true);
  throw new Error(`unknown case "${name}" (one of ${CASES.join(', ')})`);
}

function measure(name) {
  const r = spawnSync(process.execPath, ['--trace-gc-nvp', fileURLToPath(import.meta.url), '--case', name], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`case ${name} failed: ${r.stderr || r.error?.message}`);
  let allocated = 0;
  let promoted = 0;
  let scavenges = 0;
  for (const line of r.stdout.split('\n')) {
    if (!/\bgc=s\b/.test(line)) continue;
    scavenges++;
    if (scavenges <= 5) continue;
    allocated += Number(/\ballocated=(\d+)/.exec(line)?.[1] ?? 0);
    promoted += Number(/\bpromoted=(\d+)/.exec(line)?.[1] ?? 0);
  }
  return { scavenges, allocatedMb: allocated / 1048576, promotedMb: promoted / 1048576 };
}

const at = process.argv.indexOf('--case');
if (at !== -1) {
  await runCase(process.argv[at + 1]);
} else {
  console.log(`node ${process.version}: bytes V8 promoted to the old generation, after the first 5 scavenges`);
  console.log('case               scavenges   allocated MB   promoted MB   promoted share');
  for (const name of CASES) {
    const m = measure(name);
    const share = m.allocatedMb > 0 ? (100 * m.promotedMb) / m.allocatedMb : 0;
    console.log(`${name.padEnd(18)} ${String(m.scavenges).padStart(9)}   ${m.allocatedMb.toFixed(1).padStart(12)}   ${m.promotedMb.toFixed(1).padStart(11)}   ${share.toFixed(1).padStart(13)} %`);
  }
}
