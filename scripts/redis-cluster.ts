/**
 * Starts a throwaway Redis Cluster on loopback: N masters (no replicas), each a `redis-server --cluster-enabled yes`
 * in its own temporary folder, joined with `redis-cli --cluster create`. Used by the cluster test and
 * `npm run chaos -- --cluster`. Each node can be stopped and started again on its own files (same node id, same
 * slots), which is how the chaos run restarts a shard.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ping } from './redis-server.js';

/** One master of a {@link RedisClusterHandle}. */
export interface ClusterNodeHandle {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly dir: string;
  /** First and last hash slot this node serves. */
  readonly slots: readonly [number, number];
  /** Whether the process is running. */
  readonly running: boolean;
  /** SHUTDOWN (or a signal) and wait for the process to exit; its folder stays. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the node again on its own folder and port, and waits until the cluster is whole. */
  restart(): Promise<void>;
}

/** A running cluster. */
export interface RedisClusterHandle {
  readonly nodes: readonly ClusterNodeHandle[];
  /** Seed list for ioredis (`redis: { cluster: seeds }`). */
  readonly seeds: { host: string; port: number }[];
  /** The node serving `slot`. */
  nodeOfSlot(slot: number): ClusterNodeHandle;
  /** Waits until every node reports `cluster_state:ok`. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every node and deletes the folders. */
  stop(): Promise<void>;
  /** SIGKILLs every node at once, synchronously (for a process 'exit' handler); folders stay. */
  killNow(): void;
}

/** Options of {@link startRedisCluster}. */
export interface ClusterOptions {
  /** Number of masters. Default 3 (the minimum Redis Cluster accepts). */
  readonly masters?: number;
  /** Turn on the append-only file (fsync every write) so a restarted node keeps its data. Default false. */
  readonly aof?: boolean;
  /** `cluster-node-timeout` in ms. Default 2,000. */
  readonly nodeTimeoutMs?: number;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port whose cluster-bus port (port + 10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if (taken.has(port) || taken.has(port + 10_000) || taken.has(port - 10_000)) continue;
    if ((await portFree(port)) && (await portFree(port + 10_000))) {
      taken.add(port);
      return port;
    }
  }
  throw new Error('no free port pair (port and port + 10000) found for a cluster node');
}

function redisCli(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('redis-cli', args, { encoding: 'utf8', timeout: 30_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

async function waitPing(port: number): Promise<void> {
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (await ping(url, 200)) return;
    await sleep(50);
  }
  throw new Error(`cluster node on port ${port} did not start`);
}

/** Starts a cluster of `masters` nodes and waits until it serves every slot. */
export async function startRedisCluster(options: ClusterOptions = {}): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  if (masters < 3) throw new Error('Redis Cluster needs at least 3 masters');
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < masters; i++) ports.push(await clusterPort(taken));

  const nodes = ports.map((port) => {
    const dir = mkdtempSync(join(tmpdir(), `jobcraft-cluster-${port}-`));
    let child: ChildProcess | undefined;
    let exited: Promise<void> = Promise.resolve();
    const launch = async (): Promise<void> => {
      const args = [
        '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--logfile', 'redis.log',
        '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
        '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 2_000), '--save', '',
        ...(options.aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
      ];
      const proc = spawn('redis-server', args, { stdio: 'ignore' });
      child = proc;
      exited = new Promise((resolve) => proc.once('exit', () => resolve()));
      await waitPing(port);
    };
    const node = {
      host: '127.0.0.1' as const,
      port,
      dir,
      slots: [0, -1] as readonly [number, number],
      get running() {
        return child !== undefined && child.exitCode === null && child.signalCode === null;
      },
      launch,
      kill: () => void child?.kill('SIGKILL'),
      stop: async (signal?: NodeJS.Signals) => {
        if (!node.running) return;
        if (signal === undefined) redisCli(['-p', String(port), 'shutdown']);
        else child?.kill(signal);
        await exited;
      },
      restart: async () => {
        await launch();
        await handle.waitHealthy();
      },
    };
    return node;
  });

  const handle: RedisClusterHandle = {
    nodes,
    seeds: nodes.map((n) => ({ host: n.host, port: n.port })),
    nodeOfSlot(slot) {
      const node = nodes.find((n) => slot >= n.slots[0] && slot <= n.slots[1]);
      if (node === undefined) throw new Error(`no node serves slot ${slot}`);
      return node;
    },
    async waitHealthy(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const ok = nodes.every((n) => redisCli(['-p', String(n.port), 'cluster', 'info']).out.includes('cluster_state:ok'));
        if (ok) return;
        if (Date.now() > deadline) throw new Error('the Redis Cluster did not become healthy');
        await sleep(100);
      }
    },
    killNow() {
      for (const n of nodes) n.kill();
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
      for (const n of nodes) rmSync(n.dir, { recursive: true, force: true });
    },
  };

  try {
    await Promise.all(nodes.map((n) => n.launch()));
    const create = redisCli(['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    if (!create.ok) throw new Error(`redis-cli --cluster create failed:\n${create.out}`);
    await handle.waitHealthy();
    // Read each node's slot range as the cluster reports it.
    for (const n of nodes) {
      const out = redisCli(['-p', String(n.port), 'cluster', 'nodes']).out;
      const mine = out.split('\n').find((l) => l.includes('myself'));
      const range = mine?.match(/ (\d+)-(\d+)\s*$/);
      if (range === undefined || range === null) throw new Error(`node ${n.port} serves no slot range: ${mine ?? out}`);
      n.slots = [Number(range[1]), Number(range[2])];
    }
  } catch (err) {
    await handle.stop();
    throw err;
  }
  return handle;
}
