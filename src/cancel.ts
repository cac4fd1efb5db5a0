/**
 * What cancel.lua needs besides a job's id, read from its stored envelope: the unique lock it holds, the ready set it
 * may wait in (a throttled job type), and the channel announcing the cancel (a job type that declares a result).
 * Shared by `client.cancel` and the admin's cancel/delete.
 */
import type { ResolvedJob } from './define.js';
import { resultChannel, typeKeys, type QueueKeys } from './keys.js';
import { decodeEnvelope } from './payload.js';

/**
 * The lock, ready set and results channel of the job stored as `raw` in queue `k`. `jobOf`: the declared job a stored
 * name runs as, if known (its throttle names the ready set; its result, the channel: waiters learn of the cancel at
 * once, docs/results.md). `anyReadySet`: name the type's ready set whatever the declaration says.
 */
export function cancelTargets(
  k: QueueKeys,
  raw: string | null,
  jobOf: (name: string) => Pick<ResolvedJob, 'throttle' | 'result'> | undefined,
  anyReadySet = false,
): { readySet: string | undefined; lock: string | undefined; publish: string | undefined } {
  const decoded = decodeEnvelope(raw);
  if (!decoded.ok) return { readySet: undefined, lock: undefined, publish: undefined };
  const { n: name, u: unique } = decoded.envelope;
  const job = jobOf(name);
  return {
    readySet: anyReadySet || job?.throttle !== undefined ? typeKeys(k, name).ready : undefined,
    lock: unique === undefined ? undefined : k.uniquePrefix + unique,
    publish: job?.result === undefined ? undefined : resultChannel(k),
  };
}
