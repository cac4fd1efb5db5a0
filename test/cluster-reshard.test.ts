/**
 * Redis Cluster resharding: a queue's hash slot moves to another master (CLUSTER SETSLOT IMPORTING / MIGRATING,
 * MIGRATE of its keys in small batches, SETSLOT NODE) while a producer enqueues and two workers run its jobs. No
 * enqueue caller may see TRYAGAIN, NOSCRIPT, ASK or MOVED (transient: the client retries them inside), and every job
 * runs exactly once.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, createWorker, defineJobs, queueKeys, type JobClient, type Worker } from '../src/index.js';
import { startRedisCluster, type RedisClusterHandle } from '../scripts/redis-cluster.js';
import { waitFor } from './helpers.js';

const jobs = defineJobs({ resize: { payload: z.object({ n: z.number() }), queue: 'images' } });
const PREFIX = 'jcreshard';
/** Most jobs enqueued; the producer stops earlier once the slot has moved. */
const TOTAL = 20_000;

let cluster: RedisClusterHandle;
let client: JobClient<typeof jobs>;
const workers: Worker[] = [];
const admins: Redis[] = [];
const runs = new Map<string, number>();
const workerErrors: string[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
  // The default timeout (5 s): transient refusals are retried within it.
  client = createClient(jobs, { redis: { cluster: cluster.seeds }, prefix: PREFIX, logger: false });
  for (let i = 0; i < 2; i++) {
    const w = createWorker(jobs, { resize: (_p, ctx) => void runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1) }, {
      redis: { cluster: cluster.seeds },
      prefix: PREFIX,
      concurrency: 8,
      leaseMs: 5_000,
      logger: { debug: () => {}, info: () => {}, warn: (m) => void workerErrors.push(m), error: (m) => void workerErrors.push(m) },
    });
    w.on('error', (e) => void workerErrors.push(e.message));
    workers.push(w);
  }
  await Promise.all(workers.map((w) => w.ready));
}, 60_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.close()));
  await client?.close();
  for (const a of admins) a.disconnect();
  await cluster?.stop();
});

function admin(port: number): Redis {
  const r = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
  admins.push(r);
  return r;
}

/** Moves `slot` from the node at `fromPort` to the node at `toPort`, key batch by key batch, as redis-cli does. */
async function moveSlot(slot: number, fromPort: number, toPort: number, pause: () => Promise<void>): Promise<number> {
  const from = admin(fromPort);
  const to = admin(toPort);
  const fromId = String(await from.call('CLUSTER', 'MYID'));
  const toId = String(await to.call('CLUSTER', 'MYID'));
  await to.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId);
  await from.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId);
  let moved = 0;
  for (;;) {
    const keys = (await from.call('CLUSTER', 'GETKEYSINSLOT', slot, 3)) as string[];
    if (keys.length === 0) break;
    await from.call('MIGRATE', '127.0.0.1', toPort, '', 0, 5_000, 'REPLACE', 'KEYS', ...keys);
    moved += keys.length;
    await pause(); // let enqueues and fetches meet the half-moved slot
  }
  for (const n of cluster.nodes) await admin(n.port).call('CLUSTER', 'SETSLOT', slot, 'NODE', toId);
  return moved;
}

describe('Redis Cluster resharding under load', () => {
  it('moves a queue slot while jobs are enqueued and run: no transient error reaches a caller, nothing lost or run twice', async () => {
    const k = queueKeys(PREFIX, 'images');
    const slot = Number(await client.redis.cluster('KEYSLOT', k.jobs));
    const source = cluster.nodeOfSlot(slot);
    const target = cluster.nodes.find((n) => n !== source) as (typeof cluster.nodes)[number];

    const ids: string[] = [];
    const callerErrors: string[] = [];
    let n = 0;
    let produced = 0;
    let stop = false;
    const producer = (async () => {
      while (!stop && produced < TOTAL) {
        const batch = Array.from({ length: 10 }, () => ({ n: n++ }));
        produced += batch.length;
        // Half one by one (coalesced into one call per tick), half as enqueueMany.
        const calls =
          produced % 20 === 0
            ? [client.enqueueMany('resize', batch).then((r) => r.map((x) => x.id))]
            : batch.map((p) => client.enqueue('resize', p).then((r) => [r.id]));
        const settled = await Promise.allSettled(calls);
        for (const s of settled) {
          if (s.status === 'fulfilled') ids.push(...s.value);
          else callerErrors.push(String((s.reason as Error)?.message ?? s.reason));
        }
      }
    })();

    await waitFor(() => ids.length >= 300, 'the first jobs to be enqueued');
    const moved = await moveSlot(slot, source.port, target.port, () => new Promise((r) => setTimeout(r, 500)));
    stop = true;
    await producer;

    expect(moved).toBeGreaterThan(0);
    expect(callerErrors.filter((m) => /TRYAGAIN|NOSCRIPT|ASK|MOVED/.test(m))).toEqual([]);
    expect(callerErrors).toEqual([]);
    // Workers report the slot move as error events and retry; nothing else went wrong for them.
    expect(workerErrors.filter((m) => !/TRYAGAIN|ASK|MOVED|NOSCRIPT|CLUSTERDOWN|Too many Cluster redirections/.test(m))).toEqual([]);
    expect(ids.length).toBe(produced);
    expect(new Set(ids).size).toBe(ids.length);
    await waitFor(() => ids.every((id) => runs.has(id)), `all ${ids.length} jobs to run`, 60_000);
    expect([...runs.values()].filter((c) => c !== 1)).toEqual([]);
    expect(runs.size).toBe(ids.length);
    // The slot really moved: the queue's keys now live on the target.
    const onTarget = admin(target.port);
    expect(Number(await onTarget.call('CLUSTER', 'COUNTKEYSINSLOT', slot))).toBeGreaterThan(0);
  }, 120_000);
});
