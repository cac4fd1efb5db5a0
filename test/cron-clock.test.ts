/**
 * Cron and clocks (issue 16, item 9): cron decisions use the Redis clock, so a worker whose clock runs ahead neither
 * fires early nor leaves a record in the future that stops the correct workers; a record already in the future is
 * reset; and a scheduler that is merely late (a blocked event loop) enqueues every firing, skipping none.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, queueKeys, type Logger } from '../src/index.js';
import { Scripts } from '../src/scripts.js';
import { cronJobId } from '../src/worker/cron.js';
import { encodeEnvelope } from '../src/payload.js';
import { cronClockJobs } from './fixtures/cron-clock-jobs.js';
import { cleanupRegistry, redisUrl, testClient, waitFor } from './helpers.js';

const defer = cleanupRegistry();
const SKEW_MS = 90_000;

/** Redis's own clock, in ms. */
async function redisTime(raw: ReturnType<typeof testClient>['raw']): Promise<number> {
  const [s, us] = await raw.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/** Firing times of `name`'s jobs stored in `queue` (it is paused: they wait there), ascending. */
async function storedFirings(raw: ReturnType<typeof testClient>['raw'], prefix: string, name: string): Promise<number[]> {
  const ids = await raw.hkeys(queueKeys(prefix, 'cron').jobs);
  return ids
    .filter((id) => id.startsWith(`cron:${name}:`))
    .map((id) => Number(id.slice(`cron:${name}:`.length)))
    .sort((a, b) => a - b);
}

/** test/fixtures/cron-clock-worker.ts in a child process whose clock is `skewMs` off. Resolves once it is ready. */
async function startSkewedWorker(prefix: string, skewMs: number): Promise<{ stop: () => Promise<void> }> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/cron-clock-worker.ts'], {
    cwd: root,
    env: { ...process.env, REDIS_URL: redisUrl(), JC_PREFIX: prefix, JC_CLOCK_SKEW_MS: String(skewMs) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  defer(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`the skewed worker exited: ${out}`);
    return /^ready (\d+)/m.exec(out);
  }, 'the skewed worker to start', 60_000);
  // The child's clock really is off by the skew.
  expect(Number(/^ready (\d+)/m.exec(out)?.[1])).toBe(skewMs);
  return {
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function capturingLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const none = (): void => {};
  return { logger: { debug: none, info: none, warn: (m) => void warnings.push(m), error: none }, warnings };
}

describe('cron with a worker whose clock runs ahead', () => {
  it('fires nothing early, and once it stops a correct worker fires the due firings', async () => {
    const { prefix, client, raw } = testClient(cronClockJobs, 'cron-skew', defer);
    await client.pause('cron'); // firings wait in the queue, where their ids can be read

    const skewed = await startSkewedWorker(prefix, SKEW_MS);
    await waitFor(async () => (await storedFirings(raw, prefix, 'everySecond')).length >= 2, 'the skewed worker to fire twice');
    await skewed.stop();
    // No firing was enqueued before its time by the Redis clock (the skewed one would be 90 s early).
    const now = await redisTime(raw);
    const early = (await storedFirings(raw, prefix, 'everySecond')).filter((f) => f > now);
    expect(early, 'firings enqueued before their time').toEqual([]);

    const stoppedAt = now;
    const worker = createWorker(cronClockJobs, { everySecond: () => {} }, { redis: redisUrl(), prefix, logger: false });
    defer(() => worker.close());
    const later = await waitFor(async () => {
      const f = (await storedFirings(raw, prefix, 'everySecond')).filter((t) => t > stoppedAt);
      return f.length >= 3 ? f : undefined;
    }, 'the correct worker to fire 3 times after the skewed one stopped');
    // One firing per second from there on: none skipped, none early.
    expect(later).toEqual(later.map((_, i) => (later[0] as number) + i * 1000));
    expect(later.at(-1)).toBeLessThanOrEqual(await redisTime(raw));
  }, 120_000);

  it('resets a record left in the future (by an older version) and keeps firing, with a warning', async () => {
    const { prefix, client, raw } = testClient(cronClockJobs, 'cron-future-record', defer);
    await client.pause('cron');
    const now = await redisTime(raw);
    await raw.hset(queueKeys(prefix, 'cron').cron, 'everySecond', String(Math.floor(now / 1000) * 1000 + SKEW_MS));
    const { logger, warnings } = capturingLogger();
    const worker = createWorker(cronClockJobs, { everySecond: () => {} }, { redis: redisUrl(), prefix, logger });
    defer(() => worker.close());
    await waitFor(async () => (await storedFirings(raw, prefix, 'everySecond')).filter((f) => f > now).length >= 2, 'firings after the reset');
    expect(warnings.some((w) => /everySecond.*recorded \d+ ms in the future/.test(w))).toBe(true);
    expect(Number(await raw.hget(queueKeys(prefix, 'cron').cron, 'everySecond'))).toBeLessThanOrEqual(await redisTime(raw));
  });
});

describe('a record slightly in the future (the Redis clock stepped back a little, as after a failover)', () => {
  it('is waited for, not reset: the firings up to it are not enqueued again, later ones are, and nothing is logged', async () => {
    const { prefix, client, raw } = testClient(cronClockJobs, 'cron-small-step', defer);
    await client.pause('cron');
    // As if the old primary had fired up to 3 s ahead of this one's clock.
    const ahead = Math.floor((await redisTime(raw)) / 1000) * 1000 + 3000;
    await raw.hset(queueKeys(prefix, 'cron').cron, 'everySecond', String(ahead));
    const { logger, warnings } = capturingLogger();
    const worker = createWorker(cronClockJobs, { everySecond: () => {} }, { redis: redisUrl(), prefix, logger });
    defer(() => worker.close());
    const fired = await waitFor(async () => {
      const f = await storedFirings(raw, prefix, 'everySecond');
      return f.length >= 2 ? f : undefined;
    }, 'two firings after the recorded one');
    expect(fired.filter((f) => f <= ahead), 'firings at or before the record, fired again').toEqual([]);
    expect(fired.slice(0, 2)).toEqual([ahead + 1000, ahead + 2000]);
    expect(warnings).toEqual([]);
  });
});

describe('a scheduler that is merely late', () => {
  it('enqueues every firing of an every-second schedule, each once, even after its event loop was blocked', async () => {
    const jobs = defineJobs({
      tickLast: { payload: z.object({}), queue: 'cron', cron: '* * * * * *', catchUp: 'last' },
      tickNone: { payload: z.object({}), queue: 'cron', cron: '* * * * * *', catchUp: 'none' },
    });
    const { prefix, raw } = testClient(jobs, 'cron-late', defer);
    const runs: string[] = [];
    let blocked = false;
    const run = (id: string): void => {
      runs.push(id);
      if (blocked) return;
      blocked = true;
      // A worker busy for 2.5 s (a long synchronous handler, a GC pause): the scheduler's next pass comes late,
      // when two more firings of each job are due.
      const until = performance.now() + 2_500;
      while (performance.now() < until) {
        // busy
      }
    };
    const worker = createWorker(jobs, { tickLast: (_p, ctx) => run(ctx.id), tickNone: (_p, ctx) => run(ctx.id) }, { redis: redisUrl(), prefix, logger: false });
    defer(() => worker.close());
    const firingsOf = (name: string): number[] =>
      runs.filter((id) => id.startsWith(`cron:${name}:`)).map((id) => Number(id.slice(`cron:${name}:`.length)));
    await waitFor(() => firingsOf('tickLast').length >= 6 && firingsOf('tickNone').length >= 6, '6 firings of each job', 30_000);
    await worker.close();
    expect(blocked).toBe(true);
    for (const name of ['tickLast', 'tickNone']) {
      const firings = firingsOf(name);
      expect(new Set(firings).size, `${name}: a firing ran twice`).toBe(firings.length);
      const sorted = [...firings].sort((a, b) => a - b);
      // Consecutive seconds from the first to the last: none skipped.
      expect(sorted, `${name}: skipped firings`).toEqual(sorted.map((_, i) => (sorted[0] as number) + i * 1000));
    }
    expect(await raw.exists(queueKeys(prefix, 'cron').cron)).toBe(1);
  }, 60_000);
});

describe('the cron record compare-and-set', () => {
  it('a scheduler that read an older record writes nothing; one that read the current record advances it', async () => {
    const { prefix, raw } = testClient(cronClockJobs, 'cron-cas', defer);
    const k = queueKeys(prefix, 'cron');
    const scripts = new Scripts(raw);
    await raw.hset(k.cron, 'everySecond', '2000');
    const firing = (at: number): string[] => [cronJobId('everySecond', at), encodeEnvelope('everySecond', at, '{}')];

    // Read 1000, but another process already moved the record to 2000: nothing is written, the record stays.
    const stale = await scripts.enqueue(k, { delayMs: 0, priority: 0, idPrefix: '', items: firing(3000), cron: { name: 'everySecond', expected: '1000', next: '3000' } });
    expect(stale).toEqual([]);
    expect(await raw.hget(k.cron, 'everySecond')).toBe('2000');
    expect(await raw.hexists(k.jobs, cronJobId('everySecond', 3000))).toBe(0);

    // Read the current value: the firing is written and the record moves, in the same script.
    const won = await scripts.enqueue(k, { delayMs: 0, priority: 0, idPrefix: '', items: firing(3000), cron: { name: 'everySecond', expected: '2000', next: '3000' } });
    expect(won).toEqual([{ id: cronJobId('everySecond', 3000), duplicate: false }]);
    expect(await raw.hget(k.cron, 'everySecond')).toBe('3000');
  });
});
