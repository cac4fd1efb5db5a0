/**
 * The heartbeat's shutdown order: close() removes the registry entry, and a beat still in flight when it is called
 * (its script call not answered yet — e.g. sent again as EVAL after NOSCRIPT, or queued while reconnecting) must
 * not write the entry back after the removal, or a closed worker shows as live for 3 intervals.
 */
import { describe, expect, it } from 'vitest';
import { Heartbeat } from '../../src/worker/heartbeat.js';
import type { Scripts } from '../../src/scripts.js';
import type { WorkerRegistryKeys } from '../../src/keys.js';

/** A registry in memory, written by heartbeat() when the test lets its pending call through, and by the delete. */
function fakeRegistry() {
  const entries = new Map<string, string>();
  const pending: (() => void)[] = [];
  const scripts = {
    heartbeat: (_k: WorkerRegistryKeys, input: { id: string; json: string }) =>
      new Promise<number>((resolve) =>
        pending.push(() => {
          entries.set(input.id, input.json);
          resolve(0);
        }),
      ),
    redis: {
      multi() {
        const ops: (() => void)[] = [];
        const m = {
          hdel: (_key: string, id: string) => (ops.push(() => entries.delete(id)), m),
          zrem: () => m,
          exec: async () => {
            for (const op of ops) op();
            return [];
          },
        };
        return m;
      },
    },
  };
  return { entries, pending, scripts: scripts as unknown as Scripts };
}

describe('Heartbeat.stop', () => {
  it('leaves no entry behind when a beat was in flight as it was called', async () => {
    const r = fakeRegistry();
    const hb = new Heartbeat({ runningJobs: () => ({ listed: [], count: 0 }) }, {
      scripts: r.scripts,
      keys: { info: 'i', beats: 'b' } as WorkerRegistryKeys,
      name: 'w',
      queues: ['q'],
      concurrency: 1,
      intervalMs: 60_000,
      logger: { error() {}, warn() {}, info() {}, debug() {} } as never,
    });
    hb.start(); // the first beat's call is sent, not answered yet
    const stopped = hb.stop();
    for (let i = 0; i < 5; i++) await Promise.resolve();
    r.pending.shift()?.(); // the in-flight beat lands now
    await stopped;
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(r.entries.has(hb.id)).toBe(false);
  });
});
