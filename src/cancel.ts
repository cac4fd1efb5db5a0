/**
 * What cancel.lua needs besides a job's id, read from its stored envelope: the unique lock it holds and, for a
 * throttled job type, the ready set it may wait in; and its name (a client announces the cancel of a job whose type
 * declares a result). Shared by `client.cancel` and the admin's cancel/delete.
 */
import { typeKeys, type QueueKeys } from './keys.js';
import { decodeEnvelope } from './payload.js';

/** The lock and ready set of the job stored as `raw` in queue `k` (`isThrottled` tells a throttled job type). */
export function cancelTargets(
  k: QueueKeys,
  raw: string | null,
  isThrottled: (name: string) => boolean,
): { readySet: string | undefined; lock: string | undefined; name: string | undefined } {
  const decoded = decodeEnvelope(raw);
  if (!decoded.ok) return { readySet: undefined, lock: undefined, name: undefined };
  const { n: name, u: unique } = decoded.envelope;
  return { readySet: isThrottled(name) ? typeKeys(k, name).ready : undefined, lock: unique === undefined ? undefined : k.uniquePrefix + unique, name };
}
