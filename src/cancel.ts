/**
 * What cancel.lua needs besides a job's id, read from its stored envelope: the unique lock it holds, the ready set it
 * may wait in (a throttled job type), and the channel announcing the cancel (a job type that declares a result).
 * Shared by `client.cancel` and the admin's cancel/delete.
 */
import { DEFAULT_MAX_DEAD } from './bounds.js';
import type { ResolvedJob } from './define.js';
import { parseOutboxEntry } from './chain.js';
import { faninFailure, parseFaninLink, recordFaninEnd } from './fan-in.js';
import { queueKeys, resultChannel, typeKeys, type QueueKeys } from './keys.js';
import { decodeEnvelope } from './payload.js';
import type { Scripts } from './scripts.js';

/** A fan-in child's end (cancelled: failed), recorded in its queue's outbox by cancel.lua for its parent. */
export interface CancelHandoff {
  readonly outbox: string;
  /** The cancelled child's id (the outbox field). */
  readonly next: string;
  /** The outbox entry (src/chain.ts `FaninEntry`, JSON). */
  readonly entry: string;
}

/**
 * The lock, ready set and results channel of the job stored as `raw` in queue `k`. `jobOf`: the declared job a stored
 * name runs as, if known (its throttle names the ready set; its result, the channel: waiters learn of the cancel at
 * once, docs/results.md). `anyReadySet`: name the type's ready set whatever the declaration says.
 */
export function cancelTargets(
  k: QueueKeys,
  id: string,
  raw: string | null,
  jobOf: (name: string) => Pick<ResolvedJob, 'throttle' | 'result'> | undefined,
  anyReadySet = false,
): { readySet: string | undefined; lock: string | undefined; publish: string | undefined; handoff: CancelHandoff | undefined } {
  const decoded = decodeEnvelope(raw);
  if (!decoded.ok) return { readySet: undefined, lock: undefined, publish: undefined, handoff: undefined };
  const { n: name, u: unique, fi } = decoded.envelope;
  const job = jobOf(name);
  // A fan-in child: its parent must hear of the cancel (it would wait for ever), whatever job set the canceller has.
  const link = fi === undefined ? undefined : parseFaninLink(fi);
  const handoff = link === undefined || typeof link === 'string' ? undefined : { outbox: k.chainOutbox, ...faninFailure(id, link, Date.now()) };
  return {
    readySet: anyReadySet || job?.throttle !== undefined ? typeKeys(k, name).ready : undefined,
    lock: unique === undefined ? undefined : k.uniquePrefix + unique,
    publish: job?.result === undefined ? undefined : resultChannel(k),
    handoff,
  };
}

/**
 * Records a cancelled fan-in child's end for its parent at once (fanin-record.lua, idempotent per child), then removes
 * its outbox entry: quicker than a worker's sweep, which finishes it when this fails (the entry stays). A parent
 * dead-lettered `child_failed` here keeps its queue's dead letters to the default cap (a canceller does not know the
 * workers' `deadLetters.max`).
 */
export async function recordCancelledChild(scripts: Scripts, prefix: string, handoff: CancelHandoff): Promise<void> {
  const e = parseOutboxEntry(handoff.entry);
  if (e === undefined || !('k' in e)) return;
  await recordFaninEnd(scripts, queueKeys(prefix, e.q), e, DEFAULT_MAX_DEAD);
  await scripts.redis.hdel(handoff.outbox, handoff.next);
}
