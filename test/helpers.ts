import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';

/** The Redis the test run uses (set by test/global-setup.ts). */
export const redisUrl = (): string => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test uses. */
export const testPrefix = (name: string): string => `jctest:${name}:${randomBytes(4).toString('hex')}`;

/** Polls `check` until it returns a truthy value; fails with `what` after `timeoutMs`. Outcomes, never timings. */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A plain connection for looking at (or tampering with) keys directly. */
export function rawRedis(url = redisUrl()): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1 });
}

/** Deletes every key under a prefix. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}
