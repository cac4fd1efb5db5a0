/**
 * Redis Sentinel, through ioredis's sentinel support (`redis: { sentinels, name }`): a master, one replica and one
 * sentinel on loopback. Jobs run, the master is SIGKILLed, the sentinel promotes the replica, and the worker and the
 * client follow it. Writes the master acknowledged but had not yet replicated can be lost in a failover (Redis
 * replication is asynchronous): here the test waits for replication (WAIT) before the kill, so every job must survive.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, createWorker, defineJobs } from '../src/index.js';
import { freePort, ping } from '../scripts/redis-server.js';
import { cleanupRegistry, waitFor } from './helpers.js';

const jobs = defineJobs({ work: { payload: z.object({ n: z.number() }), attempts: 5, backoff: { delay: 50 } } });
const defer = cleanupRegistry();

async function startProcess(args: string[], port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  defer(() => void child.kill('SIGKILL'));
  await waitFor(() => ping(`redis://127.0.0.1:${port}`, 200), `redis-server on ${port}`);
  return child;
}

describe('Redis Sentinel', () => {
  it('the worker and the client follow a failover to the promoted replica; no replicated job is lost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobcraft-sentinel-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    const [masterPort, replicaPort, sentinelPort] = [await freePort(), await freePort(), await freePort()];
    const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--repl-diskless-sync-delay', '0'];
    const master = await startProcess(['--port', String(masterPort), '--dir', dir, ...common], masterPort);
    await startProcess(['--port', String(replicaPort), '--dir', dir, '--replicaof', '127.0.0.1', String(masterPort), ...common], replicaPort);
    const replica = new Redis({ port: replicaPort });
    defer(() => replica.disconnect());
    await waitFor(async () => (await replica.role())[3] === 'connected', 'the replica to sync');
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor jc 127.0.0.1 ${masterPort} 1`,
        'sentinel down-after-milliseconds jc 1000',
        'sentinel failover-timeout jc 5000',
        'sentinel parallel-syncs jc 1',
        '',
      ].join('\n'),
    );
    await startProcess([conf, '--sentinel'], sentinelPort);

    const redis = { sentinels: [{ host: '127.0.0.1', port: sentinelPort }], name: 'jc' };
    const client = createClient(jobs, { redis, prefix: 'sentinel', timeout: '10s' });
    client.redis.on('error', () => {});
    defer(() => client.close());
    const runs = new Map<number, number>();
    const worker = createWorker(jobs, { work: ({ n }) => void runs.set(n, (runs.get(n) ?? 0) + 1) }, {
      redis,
      prefix: 'sentinel',
      leaseMs: 3_000,
      logger: false,
    });
    defer(() => worker.close());

    const before = await client.enqueueMany('work', Array.from({ length: 50 }, (_, n) => ({ n })));
    const allCompleted = async (ids: readonly string[]): Promise<boolean> =>
      (await Promise.all(ids.map((id) => client.getJob(id)))).every((s) => s.state === 'completed');
    await waitFor(() => allCompleted(before.map((r) => r.id)), 'the jobs enqueued before the failover');
    // Wait until the replica has every write, so the failover loses nothing Redis acknowledged.
    const direct = new Redis({ port: masterPort, lazyConnect: true });
    await direct.connect();
    expect(await direct.wait(1, 2_000)).toBe(1);
    direct.disconnect();

    master.kill('SIGKILL');
    await waitFor(async () => (await replica.role())[0] === 'master', 'the sentinel to promote the replica', 20_000);

    // During the failover enqueue fails with an error (never hangs); a caller retries with the same jobIds.
    const payloads = Array.from({ length: 50 }, (_, n) => ({ n: 100 + n }));
    const jobIds = payloads.map((p) => `after-${p.n}`);
    const after = await waitFor(() => client.enqueueMany('work', payloads, { jobIds }).catch(() => undefined), 'an enqueue on the new master', 20_000);
    await waitFor(() => runs.size === 100, 'the jobs enqueued after the failover', 20_000);
    const ids = [...before, ...after].map((r) => r.id);
    await waitFor(() => allCompleted(ids), 'every job recorded as completed on the new master', 20_000);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
  }, 60_000);
});
