import { setTimeout as sleep } from 'node:timers/promises';
import { RedisUnavailableError } from './errors.js';

/**
 * Rejects with {@link RedisUnavailableError} when `promise` has not settled after `ms`. The command may still run
 * later if Redis comes back; use `jobId` for enqueues that must not happen twice.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string, where: string): Promise<T> {
  if (!Number.isFinite(ms) || ms <= 0) return promise;
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisUnavailableError(`${what}: Redis at ${where} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/** Waits `ms`, or less when `signal` aborts. */
export async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  await sleep(ms, undefined, { signal }).catch((err: unknown) => {
    if ((err as Error)?.name !== 'AbortError') throw err;
  });
}
