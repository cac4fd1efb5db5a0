/**
 * The jobs of the chaos run: three types on three queues (whose hash tags land on three different shards of a
 * 3-master cluster), and the record every execution leaves in its worker's append-only log.
 */
import * as z from 'zod';
import { defineJobs } from '../../src/index.js';

/** The handler of `deliverWebhook` throws this at random; its jobs retry and some exhaust their attempts. */
export class FlakyEndpointError extends Error {
  override readonly name = 'FlakyEndpointError';
}

export const chaosJobs = defineJobs({
  resizeImage: {
    queue: 'images',
    payload: z.object({ n: z.number().int(), width: z.number().int().positive() }),
    attempts: 10,
    backoff: { delay: 100, maxDelay: 1_000 },
  },
  chargeCard: {
    queue: 'billing',
    payload: z.object({ n: z.number().int(), cents: z.number().int().positive() }),
    attempts: 10,
    backoff: { delay: 100, maxDelay: 1_000 },
  },
  deliverWebhook: {
    queue: 'webhooks',
    payload: z.object({ n: z.number().int(), url: z.url() }),
    attempts: 3,
    backoff: { delay: 50, maxDelay: 500 },
  },
  // A chain over the three queues (three shards of a cluster): chainFirst → chainSecond → chainThird, each result the
  // next payload, the hand-offs crossing slots while workers die (docs/results.md, "Chains").
  chainFirst: {
    queue: 'images',
    payload: z.object({ n: z.number().int() }),
    result: z.object({ n: z.number().int(), twice: z.number().int() }),
    attempts: 10,
    backoff: { delay: 100, maxDelay: 1_000 },
  },
  chainSecond: {
    queue: 'billing',
    payload: z.object({ n: z.number().int(), twice: z.number().int() }),
    result: z.object({ next: z.number().int() }),
    attempts: 10,
    backoff: { delay: 100, maxDelay: 1_000 },
  },
  chainThird: {
    queue: 'webhooks',
    payload: z.object({ next: z.number().int() }),
    attempts: 10,
    backoff: { delay: 100, maxDelay: 1_000 },
  },
  fanChild: {
    queue: 'billing',
    payload: z.object({ n: z.number().int(), i: z.number().int() }),
    result: z.object({ v: z.number().int() }),
    attempts: 10,
    backoff: { delay: 100, maxDelay: 1_000 },
  },
  fanParent: {
    queue: 'webhooks',
    payload: z.object({ n: z.number().int(), values: z.array(z.object({ v: z.number().int() })) }),
    attempts: 10,
    backoff: { delay: 100, maxDelay: 1_000 },
  },
});

/** The jobs of the chaos run's fan-ins. */
export type FanInJobName = 'fanChild' | 'fanParent';
/** Fan-in parent ids are `fan-<n>`; child i is the job `fan-<n>/<i>`. */
export const FANIN_ID_PREFIX = 'fan';

// A fan-in: 14 children in `billing`, then their parent in `webhooks` with their results (docs/results.md, "Fan-in").
export const FANIN_CHILDREN = 14;

/** The steps of the chaos run's chains, in order. */
export type ChainJobName = 'chainFirst' | 'chainSecond' | 'chainThird';
export const CHAIN_STEPS: readonly ChainJobName[] = ['chainFirst', 'chainSecond', 'chainThird'];
/** Chain ids are `chn-<n>`; step i is the job `chn-<n>/<i>`. */
export const CHAIN_ID_PREFIX = 'chn';

export type ChaosJobName = 'resizeImage' | 'chargeCard' | 'deliverWebhook';
export const CHAOS_JOB_NAMES: readonly ChaosJobName[] = ['resizeImage', 'chargeCard', 'deliverWebhook'];
/** The job type whose handler throws at random. */
export const FLAKY_JOB: ChaosJobName = 'deliverWebhook';
/** Short job-id prefix per type (ids are `<prefix>-<n>`). */
export const ID_PREFIX: Record<ChaosJobName, string> = { resizeImage: 'img', chargeCard: 'chg', deliverWebhook: 'hook' };

/**
 * One line of a worker's execution log: `<kind> <job id> <attempt> <ms since epoch>`.
 * S = handler started, O = handler returned (ok), F = handler threw, A = handler stopped because its signal aborted
 * (lease given up, or shutdown), L = the worker lost the job's lease
 * (it reported the lease taken over, so its completion or failure was not recorded), R = the worker recovered the
 * job from an expired lease (a crashed worker's job, taken back).
 */
export type RecordKind = 'S' | 'O' | 'F' | 'A' | 'L' | 'R';

export interface ExecutionRecord {
  readonly kind: RecordKind;
  readonly id: string;
  readonly attempt: number;
  readonly at: number;
  /** The worker process that wrote it. */
  readonly pid: number;
}

/** Parses one worker log (a torn last line, possible after SIGKILL, is skipped). */
export function parseLog(text: string, pid: number): ExecutionRecord[] {
  const out: ExecutionRecord[] = [];
  for (const line of text.split('\n')) {
    const [kind, id, attempt, at, ...rest] = line.split(' ');
    if (rest.length > 0 || id === undefined || at === undefined || !/^[SOFALR]$/.test(kind ?? '')) continue;
    if (!/^\d+$/.test(at) || !/^\d+$/.test(attempt ?? '')) continue;
    out.push({ kind: kind as RecordKind, id, attempt: Number(attempt), at: Number(at), pid });
  }
  return out;
}
