import type { JobSet } from './define.js';
import { typeKeys, type QueueKeys, type TypeKeys } from './keys.js';

/** A job type with a concurrency cap or rate limit, as the scripts see it. */
export interface ThrottledType {
  readonly name: string;
  readonly keys: TypeKeys;
  /** Concurrency cap across processes; 0 = none. */
  readonly concurrency: number;
  /** Starts per `ratePerMs`; 0 = no rate limit. */
  readonly rateMax: number;
  readonly ratePerMs: number;
}

/**
 * The throttled job types of one queue, in a fixed order (the scripts refer to them by 1-based index). Their jobs
 * wait in a ready set of their own, so a type at its limit never holds up the rest of the queue.
 */
export function throttledTypes(jobs: JobSet, k: QueueKeys): ThrottledType[] {
  const out: ThrottledType[] = [];
  for (const job of jobs.jobs.values()) {
    if (job.queue !== k.queue || job.throttle === undefined) continue;
    out.push({ name: job.name, keys: typeKeys(k, job.name), ...job.throttle, ratePerMs: job.throttle.ratePerMs });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
