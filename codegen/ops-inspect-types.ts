/**
 * The runtime's Inspector as the CLI uses it: its types come from `jobcraft` itself; `createInspector` is looked up
 * at run time, so a `jobcraft` runtime older than the operations data gets a clear message instead of a crash.
 */
import type { createInspector } from 'jobcraft';

export type { History, Inspector, InspectorOptions, ListOptions, ListState, QueueStats, WorkerInfo } from 'jobcraft';

type CreateInspector = typeof createInspector;

async function lookUp(): Promise<CreateInspector | undefined> {
  const runtime = (await import('jobcraft')) as { createInspector?: CreateInspector };
  return typeof runtime.createInspector === 'function' ? runtime.createInspector : undefined;
}

/** `createInspector` from the runtime, or a clear error when the installed runtime has none. */
export async function loadCreateInspector(): Promise<CreateInspector> {
  const found = await lookUp();
  if (found === undefined) {
    throw new Error('this jobcraft runtime has no createInspector (stats, queues, jobs <queue> and workers need jobcraft with the operations data): upgrade the jobcraft package');
  }
  return found;
}

/** `createInspector` when the runtime has one, else undefined (for the reads that only add to a command's output). */
export function optionalCreateInspector(): Promise<CreateInspector | undefined> {
  return lookUp();
}
