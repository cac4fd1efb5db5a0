/** A job's record as `getJob` and the inspector report it, from what `get.lua` read. */
import type { DeadReason } from './dead-letters.js';
import type { StoredError } from './errors.js';
import { parseDeadInfo } from './dead-letters.js';
import { parseErrorHistory, storedTime } from './errors.js';
import { decodeEnvelope } from './payload.js';
import type { RawJobState } from './scripts.js';

/** A stored time as a Date, or undefined when there is none a Date can hold (stored records are anyone's text). */
function dateOf(v: unknown): Date | undefined {
  const ms = storedTime(v);
  return ms === 0 ? undefined : new Date(ms);
}

/** Where a job is in its life. */
export type JobState = 'waiting' | 'delayed' | 'active' | 'retrying' | 'dead' | 'completed' | 'unknown';

/** What `getJob` reports. */
export interface JobInfo {
  readonly id: string;
  readonly state: JobState;
  /** The queue that holds it (undefined when unknown). */
  readonly queue: string | undefined;
  /** Job name (undefined when unknown or completed: completed records keep only attempts and time). */
  readonly name: string | undefined;
  /** Stored payload in its input form, for live and dead jobs. */
  readonly payload: unknown;
  /** Attempts started so far. */
  readonly attempts: number;
  /** Total attempts allowed, when known. */
  readonly maxAttempts: number | undefined;
  /** The most recent error, for retrying and dead jobs. */
  readonly lastError: StoredError | undefined;
  /**
   * Every error the job keeps, oldest first: up to 4 earlier ones (`MAX_EARLIER_ERRORS`; message cut to 2 KiB, stack
   * to 4 KiB), then {@link JobInfo.lastError}, which is always the last entry. Empty when there is no last error
   * (records written before jobcraft kept a history hold only the last one).
   */
  readonly errors: readonly StoredError[];
  readonly enqueuedAt: Date | undefined;
  /** When a delayed or retrying job is due. */
  readonly runAt: Date | undefined;
  /** When an active job's lease runs out unless renewed. */
  readonly leaseExpiresAt: Date | undefined;
  /** When a completed job finished. */
  readonly finishedAt: Date | undefined;
  /** Why a dead job died. */
  readonly deadReason: DeadReason | undefined;
}

/**
 * The {@link JobInfo} of `id` found in `queue` (`s`: what get.lua read; undefined: found nowhere). `maxAttemptsOf`
 * gives a job type's declared attempts (undefined when not known).
 */
export function jobInfoFrom(
  id: string,
  queue: string | undefined,
  s: RawJobState | undefined,
  maxAttemptsOf: (name: string) => number | undefined,
): JobInfo {
  const base = {
    id,
    name: undefined,
    payload: undefined,
    attempts: 0,
    maxAttempts: undefined,
    lastError: undefined,
    errors: [],
    enqueuedAt: undefined,
    runAt: undefined,
    leaseExpiresAt: undefined,
    finishedAt: undefined,
    deadReason: undefined,
  };
  if (s === undefined || queue === undefined) return { ...base, state: 'unknown', queue: undefined };
  const decoded = decodeEnvelope(s.raw);
  const env = decoded.ok ? decoded.envelope : undefined;
  const common = {
    ...base,
    queue,
    name: env?.n,
    payload: env?.p,
    enqueuedAt: env === undefined ? undefined : dateOf(env.t),
    maxAttempts: env === undefined ? undefined : (env.a ?? maxAttemptsOf(env.n)),
  };
  switch (s.state) {
    case 'completed': {
      const [attempts, at] = (s.extra ?? '').split('|');
      return { ...base, queue, state: 'completed', attempts: Number(attempts), finishedAt: dateOf(at) };
    }
    case 'dead': {
      const info = parseDeadInfo(s.extra);
      return { ...common, state: 'dead', attempts: info.attempts, lastError: info.error, errors: [...(info.earlier ?? []), info.error], deadReason: info.reason };
    }
  }
  const errors = parseErrorHistory(s.error);
  const live = { ...common, attempts: s.attempts, lastError: errors[errors.length - 1], errors };
  switch (s.state) {
    case 'active':
      return { ...live, state: 'active', leaseExpiresAt: dateOf(s.extra) };
    case 'delayed':
    case 'retrying':
      return { ...live, state: s.state, runAt: dateOf(s.extra) };
    default:
      return { ...live, state: 'waiting' };
  }
}
