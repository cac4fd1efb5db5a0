/**
 * One worker process of the chaos run (started by scripts/chaos.ts, never by hand). Runs the three chaos job types
 * and appends a line per execution to its own log file, synchronously, so the record survives a SIGKILL.
 *
 *   node --import tsx scripts/chaos/worker.ts '<json config>'
 */
import { openSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createWorker, PermanentError, type JobContext, type Logger, type RedisConfig } from '../../src/index.js';
import { chaosJobs, FANIN_CHILDREN, FlakyEndpointError, type RecordKind } from './jobs.js';

/** What the orchestrator passes to a worker. */
export interface ChaosWorkerConfig {
  readonly redis: RedisConfig;
  readonly prefix: string;
  /** Folder of the execution logs; this process writes `<dir>/<pid>.log`. */
  readonly logDir: string;
  readonly leaseMs: number;
  readonly concurrency: number;
  /** Chance that one `deliverWebhook` attempt throws. */
  readonly failRate: number;
  /** How long one handler runs, in ms: [min, max). Default [10, 90). */
  readonly workMs?: readonly [number, number];
}

const config = JSON.parse(process.argv[2] ?? '') as ChaosWorkerConfig;
const fd = openSync(`${config.logDir}/${process.pid}.log`, 'a');
const record = (kind: RecordKind, id: string, attempt: number): void => {
  writeSync(fd, `${kind} ${id} ${attempt} ${Date.now()}\n`);
};

// The worker's warnings say when it lost a lease or recovered a job from an expired one; both go in the log.
const LEASE_LOST = /^(?:lost the lease of job (\S+)|job (\S+) \(\S+\) (?:finished|failed) after its lease was taken over)/;
const RECOVERED = /^recovered job (\S+) \(/;
const stamp = (level: string, message: string, fields?: Record<string, unknown>): void => {
  const lost = LEASE_LOST.exec(message);
  const id = lost?.[1] ?? lost?.[2];
  if (id !== undefined) record('L', id, 0);
  const recovered = RECOVERED.exec(message)?.[1];
  if (recovered !== undefined) record('R', recovered, 0);
  process.stderr.write(`${new Date().toISOString()} ${level} ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}\n`);
};
const logger: Logger = {
  debug: () => {},
  info: (m, f) => stamp('info', m, f),
  warn: (m, f) => stamp('warn', m, f),
  error: (m, f) => stamp('error', m, f),
};

const [workMin, workMax] = config.workMs ?? [10, 90];

/** Some pretend work, recorded before and after; it stops (and is recorded as stopped) when its signal aborts. */
async function work(ctx: JobContext, fail: boolean): Promise<void> {
  record('S', ctx.id, ctx.attempt);
  try {
    await sleep(workMin + Math.floor(Math.random() * (workMax - workMin)), undefined, { signal: ctx.signal });
  } catch {
    record('A', ctx.id, ctx.attempt);
    throw ctx.signal.reason;
  }
  if (fail) {
    record('F', ctx.id, ctx.attempt);
    throw new FlakyEndpointError(`the endpoint answered 503 (attempt ${ctx.attempt} of ${ctx.maxAttempts})`);
  }
  record('O', ctx.id, ctx.attempt);
}

createWorker(
  chaosJobs,
  {
    resizeImage: (_p, ctx) => work(ctx, false),
    chargeCard: (_p, ctx) => work(ctx, false),
    deliverWebhook: (_p, ctx) => work(ctx, Math.random() < config.failRate),
    // Chain steps: each checks that its payload is what the step before it returned (for chain chn-<n>), so a lost or
    // mixed-up hand-off dies as permanent_error, which the verdict counts as a problem.
    chainFirst: async ({ n }, ctx) => {
      await work(ctx, false);
      return { n, twice: n * 2 };
    },
    chainSecond: async ({ n, twice }, ctx) => {
      if (twice !== n * 2 || ctx.id !== `chn-${n}/1`) throw new PermanentError(`chain step 1 ${ctx.id} got the payload ${JSON.stringify({ n, twice })}`);
      await work(ctx, false);
      return { next: n + 1 };
    },
    chainThird: async ({ next }, ctx) => {
      if (ctx.id !== `chn-${next - 1}/2`) throw new PermanentError(`chain step 2 ${ctx.id} got the payload ${JSON.stringify({ next })}`);
      await work(ctx, false);
    },
    // Fan-in: the parent checks that it got every child's result, in child order (else permanent_error: a problem).
    fanChild: async ({ n, i }, ctx) => {
      await work(ctx, false);
      return { v: n * 1_000 + i };
    },
    fanParent: async ({ n, values }, ctx) => {
      const expected = Array.from({ length: FANIN_CHILDREN }, (_, i) => n * 1_000 + i);
      if (ctx.id !== `fan-${n}` || JSON.stringify(values.map((x) => x.v)) !== JSON.stringify(expected)) {
        throw new PermanentError(`fan-in parent ${ctx.id} got ${JSON.stringify(values)}`);
      }
      await work(ctx, false);
    },
  },
  {
    redis: config.redis,
    prefix: config.prefix,
    leaseMs: config.leaseMs,
    concurrency: config.concurrency,
    keepCompleted: { count: 1_000_000, age: '1d' },
    logger,
    handleSignals: true,
  },
);
process.stdout.write('ready\n');
