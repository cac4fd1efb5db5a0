import type { ResolvedJob } from './define.js';

/**
 * The delay before the attempt after `failedAttempt` (1-based): `delay * 2^(failedAttempt - 1)` for exponential
 * backoff or `delay` for fixed, capped at `maxDelay`, then reduced by up to `jitter` of itself at random.
 */
export function retryDelay(backoff: ResolvedJob['backoff'], failedAttempt: number, random: () => number = Math.random): number {
  const raw = backoff.type === 'fixed' ? backoff.delayMs : backoff.delayMs * 2 ** Math.max(0, failedAttempt - 1);
  const capped = Math.min(raw, backoff.maxDelayMs);
  return Math.round(capped * (1 - backoff.jitter * random()));
}
