import { ensureRedis, type RedisHandle } from '../scripts/redis-server.js';
import { chromiumMissing, missingNotice } from '../scripts/chromium.js';

let handle: RedisHandle | undefined;
let browserNotice: string | undefined;

/**
 * Finds (or starts) the Redis every test talks to and hands its URL to the test processes via REDIS_URL. Also looks
 * for the Chromium of the browser tests (`npm test` installs it first where it can, see scripts/chromium.ts): when
 * it is missing, JOBCRAFT_BROWSER_MISSING tells the browser tests why (they skip themselves with that reason) and a
 * boxed notice opens and closes the run, so a run without them never reads as a full pass.
 */
export async function setup(): Promise<void> {
  handle = await ensureRedis();
  process.env.REDIS_URL = handle.url;
  const missing = chromiumMissing();
  if (missing !== undefined) {
    process.env.JOBCRAFT_BROWSER_MISSING = missing;
    browserNotice = missingNotice(missing);
    process.stderr.write(`${browserNotice}\n`);
  }
}

export async function teardown(): Promise<void> {
  await handle?.stop();
  if (browserNotice !== undefined) process.stderr.write(`${browserNotice}\n`);
}
