/**
 * A network partition longer than the lease (issue 16, item 1). Worker A reaches Redis through a TCP proxy that
 * holds its traffic; worker B reaches Redis directly and takes A's jobs back once their leases expire. A must give
 * its jobs up on its own, before B may take them: its handlers see `ctx.signal` abort with `LeaseExpiredError`, the
 * jobs it leased ahead never start, and no job ever runs on both workers at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, LeaseExpiredError, queueKeys, type JobContext, type Logger, type Worker } from '../src/index.js';
import { cleanupRegistry, redisUrl, testClient, waitFor } from './helpers.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

const LEASE_MS = 3_000;
/** A's handlers would run this long if nobody stopped them: longer than the lease and than the partition. */
const A_HANDLER_MS = 20_000;
const B_HANDLER_MS = 300;

const jobs = defineJobs({
  slow: { payload: z.object({ n: z.number() }), attempts: 5, backoff: { type: 'fixed', delay: 50 } },
});

const defer = cleanupRegistry();

/** One execution of a handler, as its own worker saw it (performance.now() times, one process). */
interface Execution {
  readonly worker: 'A' | 'B';
  readonly id: string;
  readonly attempt: number;
  readonly start: number;
  end: number | undefined;
  how: 'returned' | 'aborted' | undefined;
  reason: unknown;
}

let proxy: TcpProxy;
beforeAll(async () => {
  proxy = await startTcpProxy(Number(new URL(redisUrl()).port || 6379));
});
afterAll(async () => {
  await proxy.close();
});

/** A logger that keeps what it was told, with when. */
function recordingLogger(): { logger: Logger; lines: { level: string; message: string; at: number }[] } {
  const lines: { level: string; message: string; at: number }[] = [];
  const keep = (level: string) => (message: string) => void lines.push({ level, message, at: performance.now() });
  return { logger: { debug: () => {}, info: keep('info'), warn: keep('warn'), error: keep('error') }, lines };
}

describe('a partition longer than the lease', () => {
  it('gives the jobs up before another worker may take them: no job runs on two workers at once', async () => {
    const { prefix, client, raw } = testClient(jobs, 'partition', defer);
    const k = queueKeys(prefix, 'default');
    const executions: Execution[] = [];

    // Both workers' handlers honour their signal; A's would otherwise outlast the partition.
    const handler = (worker: 'A' | 'B', ms: number) => (_p: { n: number }, ctx: JobContext) => {
      const run: Execution = { worker, id: ctx.id, attempt: ctx.attempt, start: performance.now(), end: undefined, how: undefined, reason: undefined };
      executions.push(run);
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          run.end = performance.now();
          run.how = 'returned';
          resolve();
        }, ms);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          run.end = performance.now();
          run.how = 'aborted';
          run.reason = ctx.signal.reason;
          reject(ctx.signal.reason);
        });
      });
    };

    const logA = recordingLogger();
    const a: Worker = createWorker(jobs, { slow: handler('A', A_HANDLER_MS) }, {
      redis: proxy.url,
      prefix,
      leaseMs: LEASE_MS,
      concurrency: 1,
      prefetch: 2,
      logger: logA.logger,
    });
    defer(() => a.close());

    // A runs one job and holds two more leased ahead (they must never start once their lease is in doubt).
    const ids = (await client.enqueueMany('slow', [{ n: 1 }, { n: 2 }, { n: 3 }])).map((r) => r.id);
    await waitFor(
      async () => executions.length === 1 && (await raw.zcount(k.active, '-inf', '(+inf')) === 3,
      'A to run one job and lease two ahead',
    );

    const b: Worker = createWorker(jobs, { slow: handler('B', B_HANDLER_MS) }, {
      redis: redisUrl(),
      prefix,
      leaseMs: LEASE_MS,
      concurrency: 3,
      logger: false,
    });
    defer(() => b.close());
    const completedOnB = new Set<string>();
    b.on('completed', (e) => completedOnB.add(e.job.id));

    // The partition: A's traffic is held (both ways) until B has taken over and completed all three jobs, which
    // cannot happen before their leases expired in Redis — longer than the lease.
    const heldAt = performance.now();
    proxy.hold();
    await waitFor(() => completedOnB.size === 3, 'B to complete the three jobs while A is cut off', 30_000);
    const warnedDuringPartition = logA.lines.filter((l) => l.level === 'warn' || l.level === 'error');
    proxy.resume();

    // After the partition A's queued calls reach Redis (close() waits for them): its late failure record of the
    // attempt it gave up is refused by the fence, since B took the job over.
    await waitFor(() => a.running === 0, 'A to have no handler running');
    await a.close();
    await b.close();

    // No job ran on two workers at once: compare each worker's own start and end (or abort) records.
    for (const id of ids) {
      const onA = executions.filter((e) => e.worker === 'A' && e.id === id);
      const onB = executions.filter((e) => e.worker === 'B' && e.id === id);
      for (const x of onA) {
        for (const y of onB) {
          const overlap = x.start < (y.end ?? Infinity) && y.start < (x.end ?? Infinity);
          expect(overlap, `job ${id} ran on A (attempt ${x.attempt}) and B (attempt ${y.attempt}) at once`).toBe(false);
        }
      }
    }
    // A gave up the job it was running when the partition began, and any job leased ahead that it started while
    // that job's lease still held, with LeaseExpiredError.
    const onA = executions.filter((e) => e.worker === 'A');
    expect(onA[0]?.start).toBeLessThan(heldAt);
    for (const run of onA) {
      expect(run.how, `A's run of job ${run.id}`).toBe('aborted');
      expect(run.reason, `A's run of job ${run.id}`).toBeInstanceOf(LeaseExpiredError);
    }
    // A never started its two leased-ahead jobs: they were given up with the running one, unstarted.
    expect(onA).toHaveLength(1);
    for (const id of ids.filter((i) => i !== onA[0]?.id)) {
      const said = logA.lines.filter((l) => /leased ahead not started|leased ahead whose lease was too close/.test(l.message));
      expect(said.some((l) => l.message.includes(` ${id} (slow, `)), `A said it never started job ${id}`).toBe(true);
    }
    // Its hand-back of the attempt it gave up came after B had taken the job over: refused by the fence.
    // (Or, when this loaded machine stalled A's event loop past the deadline, its failure record, refused the same way.)
    expect(
      logA.lines.some((l) =>
        /job \S+ \(slow\) (was given up after its lease was taken over; nothing was recorded|failed after its lease was taken over; the failure was not recorded)/.test(l.message),
      ),
    ).toBe(true);
    // A said so once, while cut off.
    expect(warnedDuringPartition.map((l) => l.message)).toEqual([expect.stringMatching(/^lease renewals are failing/)]);
    expect(logA.lines.filter((l) => l.level === 'warn' && /lease renewals are failing/.test(l.message))).toHaveLength(1);
    // At least once: every job completed, recorded once; B ran each to the end exactly once.
    for (const id of ids) {
      expect((await client.getJob(id)).state).toBe('completed');
      expect(executions.filter((e) => e.worker === 'B' && e.id === id && e.how === 'returned')).toHaveLength(1);
    }
    expect(await raw.hlen(k.done)).toBe(3);
  }, 60_000);
});
