import { ensureRedis, type RedisHandle } from '../scripts/redis-server.js';

let handle: RedisHandle | undefined;

/** Finds (or starts) the Redis every test talks to and hands its URL to the test processes via REDIS_URL. */
export async function setup(): Promise<void> {
  handle = await ensureRedis();
  process.env.REDIS_URL = handle.url;
}

export async function teardown(): Promise<void> {
  await handle?.stop();
}
