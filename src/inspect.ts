/**
 * The read API over a prefix's queues: see {@link Inspector}. Implementation in progress.
 */
import type { Inspector, InspectorOptions } from './inspect-types.js';

/**
 * Opens an {@link Inspector} on the queues under `prefix`: queue state, paged job listings, one job's record, the
 * live workers and the history. Nothing it does scans keys or loads a whole queue.
 *
 * @example
 * const inspector = createInspector({ redis: process.env.REDIS_URL, prefix: 'jobcraft' });
 * for (const s of await inspector.allStats()) console.log(s.queue, s.waiting, s.latencyMs);
 */
export function createInspector(options: InspectorOptions = {}): Inspector {
  void options;
  throw new Error('not implemented yet');
}
