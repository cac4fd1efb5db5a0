/**
 * The Inspector's types as the runtime declares them (src/inspect-types.ts on the ops-data branch), the subset the
 * CLI reads. Kept here only until that branch is merged: then ops-inspect.ts imports them from `jobcraft` and this
 * file goes. `createInspector` itself is looked up at run time, so a runtime without it gets a clear message.
 */
import type { StoredError } from 'jobcraft';

export type ListState = 'waiting' | 'delayed' | 'retrying' | 'active' | 'dead' | 'completed';

export interface QueueStats {
  readonly queue: string;
  readonly waiting: number;
  readonly delayed: number;
  readonly retrying: number;
  readonly active: number;
  readonly dead: number;
  readonly completed: number;
  readonly paused: boolean;
  readonly latencyMs: number;
  readonly oldestWaitingAt: Date | undefined;
  readonly nextDueAt: Date | undefined;
  readonly at: Date;
}

export interface ListOptions {
  readonly state?: ListState;
  readonly job?: string;
  readonly limit?: number;
  readonly cursor?: string;
}

export interface ListedJob {
  readonly id: string;
  readonly state: ListState;
  readonly name: string | undefined;
  readonly enqueuedAt: Date | undefined;
  readonly attempts: number;
  readonly at: Date | undefined;
  readonly lastError: StoredError | undefined;
}

export interface JobPage {
  readonly jobs: readonly ListedJob[];
  readonly cursor: string | undefined;
}

export interface RunningJob {
  readonly id: string;
  readonly queue: string;
  readonly name: string;
  readonly startedAt: Date;
}

export interface WorkerInfo {
  readonly id: string;
  readonly name: string;
  readonly host: string;
  readonly pid: number;
  readonly version: string;
  readonly queues: readonly string[];
  readonly concurrency: number;
  readonly running: readonly RunningJob[];
  readonly runningCount: number;
  readonly startedAt: Date;
  readonly lastBeatAt: Date;
  readonly expiresAt: Date;
}

export interface HistoryCounts {
  readonly processed: number;
  readonly failed: number;
  readonly retried: number;
  readonly dead: number;
}

export interface HistoryPoint extends HistoryCounts {
  readonly at: Date;
}

export interface History {
  readonly queue: string;
  readonly points: readonly HistoryPoint[];
}

export interface QueueEntry {
  readonly queue: string;
  readonly throttled: readonly string[];
}

export interface Inspector {
  readonly prefix: string;
  queues(): Promise<readonly QueueEntry[]>;
  stats(queue: string): Promise<QueueStats>;
  allStats(): Promise<readonly QueueStats[]>;
  jobs(queue: string, options?: ListOptions): Promise<JobPage>;
  workers(): Promise<readonly WorkerInfo[]>;
  history(queue: string, options?: { from?: Date | number; to?: Date | number; resolution?: 'minute' | 'hour'; job?: string }): Promise<History>;
  close(): Promise<void>;
}

export interface InspectorOptions {
  /** A URL, or a connection of the caller's (which stays the caller's). */
  readonly redis?: unknown;
  readonly prefix?: string;
}

/** `createInspector` from the runtime, or a clear error when the installed runtime has none yet. */
export async function loadCreateInspector(): Promise<(options: InspectorOptions) => Inspector> {
  const runtime = (await import('jobcraft')) as unknown as { createInspector?: (options: InspectorOptions) => Inspector };
  if (typeof runtime.createInspector !== 'function') {
    throw new Error('this jobcraft runtime has no createInspector (stats, queues, jobs <queue> and workers need jobcraft with the operations data): upgrade the jobcraft package');
  }
  return runtime.createInspector;
}

/** `createInspector` when the runtime has one, else undefined (for the reads that only add to a command's output). */
export async function optionalCreateInspector(): Promise<((options: InspectorOptions) => Inspector) | undefined> {
  const runtime = (await import('jobcraft')) as unknown as { createInspector?: (options: InspectorOptions) => Inspector };
  return typeof runtime.createInspector === 'function' ? runtime.createInspector : undefined;
}
