/**
 * Walking a hash of any size in HSCAN pages, each field once: the admin's bulk actions and `jobcraft migrate` read
 * a queue's jobs or dead letters so (O(page size) Redis work per call, resumable by running again).
 */
import type { RedisConnection } from './redis.js';

/** One entry of a hash as an HSCAN page returns it. */
export interface HashEntry {
  readonly id: string;
  readonly raw: string;
}

/**
 * Walks hash `hash` in HSCAN pages of about `pageSize` entries, handing each page to `onPage`, each field once
 * (HSCAN may return a field twice; the walk keeps the fields it has seen: about 85 bytes each). Stops between pages
 * when `signal` aborts. Returns whether it was interrupted so (a rerun walks again and finds what is left).
 */
export async function walkHash(
  redis: RedisConnection,
  hash: string,
  pageSize: number,
  signal: AbortSignal | undefined,
  onPage: (entries: readonly HashEntry[]) => Promise<void>,
): Promise<boolean> {
  const seen = new Set<string>();
  let cursor = '0';
  do {
    if (signal?.aborted === true) return true;
    const [next, flat] = await redis.hscan(hash, cursor, 'COUNT', pageSize);
    cursor = next;
    const entries: HashEntry[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const id = flat[i] as string;
      if (seen.has(id)) continue;
      seen.add(id);
      entries.push({ id, raw: flat[i + 1] as string });
    }
    await onPage(entries);
  } while (cursor !== '0');
  return false;
}
