/**
 * Measures the Redis memory of the history (docs/operations.md, "Data"): one bucket hash as the worker writes it, with
 * every counter of 1, 5 and 20 job types (realistic values: a busy minute), `MEMORY USAGE … SAMPLES 0` each, and what
 * that makes per queue per day and kept in all (1,440 minute + 24 hour buckets a day; 48 h of minutes, 90 days of
 * hours). Run: npx tsx scripts/history-memory.ts (REDIS_URL, default local). Writes under a random prefix, deletes it.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { HISTORY_BUCKETS_MS } from '../src/inspect-types.js';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const prefix = `jcmeasure:${randomBytes(4).toString('hex')}`;

/** Every counter a job type can have in a bucket, with the values of a busy minute. */
function fieldsOf(job: string): (string | number)[] {
  const out: (string | number)[] = [`${job}|p`, 12_345, `${job}|f`, 123, `${job}|r`, 100, `${job}|d`, 23, `${job}|rts`, 9_876_543, `${job}|wts`, 45_678_901];
  for (let i = 0; i <= HISTORY_BUCKETS_MS.length; i++) out.push(`${job}|rt${i}`, 1_000 + i, `${job}|wt${i}`, 2_000 + i);
  return out;
}

const rows: Record<string, number> = {};
for (const types of [1, 5, 20]) {
  const key = `${prefix}:{q}:history:m:${Date.now() - (Date.now() % 60_000)}`;
  const fields: (string | number)[] = [];
  for (let i = 0; i < types; i++) fields.push(...fieldsOf(`sendWelcomeEmail${i}`));
  await redis.hset(key, ...fields);
  await redis.pexpire(key, 60_000);
  const bytes = Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
  const encoding = String(await redis.object('ENCODING', key));
  await redis.del(key);
  rows[types] = bytes;
  const perDay = bytes * (1_440 + 24);
  const kept = bytes * (2_880 + 2_160);
  console.log(
    `${types} job type(s), every counter set: ${bytes} bytes per bucket (${encoding}); per queue per day ${(perDay / 1024 / 1024).toFixed(2)} MiB; kept in all (48 h of minutes + 90 days of hours) ${(kept / 1024 / 1024).toFixed(1)} MiB`,
  );
}
redis.disconnect();
