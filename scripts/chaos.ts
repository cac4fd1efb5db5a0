/**
 * The chaos run: proves that jobcraft loses no job while workers are killed, Redis restarts and handlers fail.
 *
 *   npm run chaos                  21,000 jobs, 60 s of chaos, own Redis with AOF on a free port
 *   npm run chaos -- --quick       3,000 jobs, 12 s of chaos (part of the test suite)
 *   npm run chaos -- --cluster     the same against a 3-master Redis Cluster (one shard is restarted instead)
 *   options: --jobs N  --seconds S  --keep (keep the run folder even when it passed)
 *
 * What happens: 4 worker processes (scripts/chaos/worker.ts) run three job types while this process enqueues them.
 * Every 1–3 s a random worker is SIGKILLed and a replacement started; once a worker is stopped with SIGTERM
 * (graceful) and replaced; once Redis itself is SHUT DOWN and started again on the same files; one job type throws at
 * random. With one Redis, a fifth worker reaches Redis through a TCP proxy and runs slower handlers (0.5–4 s, longer
 * than the lease); once, the proxy holds its traffic for 2.5 leases (a partition), then lets it flow again. Handlers
 * honour their signal. Every execution is appended to its worker's log file. At the end the logs and Redis are
 * compared (scripts/chaos/analysis.ts) and a summary is printed. Exit code 0 only if nothing was lost, every count
 * adds up and no job ran on two workers at the same time.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createClient, queueKeys, type RedisConfig } from '../src/index.js';
import { startRedisServer, type RedisServer } from './redis-server.js';
import { startRedisCluster, type RedisClusterHandle } from './redis-cluster.js';
import { startTcpProxy, type TcpProxy } from '../test/tcp-proxy.js';
import { analyse, type ChaosReport, type DeadRecord, type KillEvent, type Partition } from './chaos/analysis.js';
import {
  CHAIN_ID_PREFIX,
  CHAIN_STEPS,
  chaosJobs,
  CHAOS_JOB_NAMES,
  FANIN_CHILDREN,
  FANIN_ID_PREFIX,
  ID_PREFIX,
  parseLog,
  type ChainJobName,
  type ChaosJobName,
  type ExecutionRecord,
  type FanInJobName,
} from './chaos/jobs.js';
import type { ChaosWorkerConfig } from './chaos/worker.js';

/** Options of {@link runChaos}. */
export interface ChaosOptions {
  /**
   * Jobs to enqueue: a tenth of them as the steps of 3-step chains (chainFirst → chainSecond → chainThird, over the
   * three queues), a twentieth as fan-ins (14 children and their parent), the rest split evenly over the three plain
   * types. Default 21,000; 3,000 with `quick`.
   */
  readonly jobs?: number;
  /** How long workers are killed, in seconds. Default 60; 12 with `quick`. */
  readonly seconds?: number;
  /** Run against a 3-master Redis Cluster instead of one Redis. */
  readonly cluster?: boolean;
  readonly quick?: boolean;
  /** Keep the run folder (logs, AOF) even when the run passed. Default: keep for full runs, delete for quick ones. */
  readonly keep?: boolean;
  /** Where progress and the summary go. Default console.log. */
  readonly print?: (line: string) => void;
}

const WORKERS = 4;
const LEASE_MS = 2_000;
const CONCURRENCY = 20;
const FAIL_RATE = 0.35;
const BATCH = 50;
const PREFIX = 'chaos';
/** The partitioned worker's handlers run this long (ms), often longer than the lease. */
const PARTITION_WORK_MS: readonly [number, number] = [500, 6_000];
/** Jobs per type kept back for the partition phase (of the total). */
const PARTITION_PER_TYPE = 100;
/** The partition lasts this many leases. */
const PARTITION_LEASES = 2.5;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKER_SCRIPT = fileURLToPath(new URL('./chaos/worker.ts', import.meta.url));

interface WorkerProc {
  readonly child: ChildProcess;
  readonly pid: number;
  ready: boolean;
  /** Set once we signalled it: its exit is expected. */
  signalled: 'SIGKILL' | 'SIGTERM' | undefined;
  /** The worker behind the partition proxy: never killed by the chaos, so the partition has someone to cut off. */
  readonly partitioned: boolean;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const between = (min: number, max: number): number => min + Math.random() * (max - min);

/** Runs the chaos scenario and returns the verdict (it never throws for a failed verdict; see `report.ok`). */
export async function runChaos(options: ChaosOptions = {}): Promise<ChaosReport> {
  const print = options.print ?? ((line: string) => console.log(line));
  const quick = options.quick ?? false;
  const totalJobs = options.jobs ?? (quick ? 3_000 : 21_000);
  const chaosMs = (options.seconds ?? (quick ? 12 : 60)) * 1_000;
  const keep = options.keep ?? !quick;
  const dir = mkdtempSync(join(tmpdir(), 'jobcraft-chaos-'));
  const logDir = join(dir, 'executions');
  const stderrDir = join(dir, 'worker-stderr');
  mkdirSync(logDir);
  mkdirSync(stderrDir);
  const t0 = Date.now();
  const since = (at: number): string => `${((at - t0) / 1000).toFixed(1)} s`;
  const say = (what: string): void => print(`[chaos ${since(Date.now())}] ${what}`);

  // ---- Redis ------------------------------------------------------------------------------------------------
  let server: RedisServer | undefined;
  let cluster: RedisClusterHandle | undefined;
  let redis: RedisConfig;
  if (options.cluster) {
    cluster = await startRedisCluster({ aof: true });
    redis = { cluster: cluster.seeds };
    say(`Redis Cluster of ${cluster.nodes.length} masters with AOF on ports ${cluster.nodes.map((n) => n.port).join(', ')}`);
  } else {
    server = await startRedisServer({ aof: true, dir: mkdirP(join(dir, 'redis')) });
    redis = server.url;
    say(`Redis with AOF (appendfsync always) at ${server.url}, files in ${server.dir}`);
  }
  const client = createClient(chaosJobs, { redis, prefix: PREFIX, timeout: '2s' });
  // Expected while Redis restarts; without a listener ioredis prints every failed reconnect.
  client.redis.on('error', () => {});

  // ---- workers ----------------------------------------------------------------------------------------------
  const workerConfig: ChaosWorkerConfig = { redis, prefix: PREFIX, logDir, leaseMs: LEASE_MS, concurrency: CONCURRENCY, failRate: FAIL_RATE };
  // One Redis: a worker reaches it through a proxy that can hold its traffic. (A Cluster client learns the nodes'
  // own addresses from the cluster and would go around a proxy, so there is no partition phase against a Cluster.)
  let proxy: TcpProxy | undefined;
  if (server !== undefined) proxy = await startTcpProxy(server.port);
  const workers: WorkerProc[] = [];
  const kills: KillEvent[] = [];
  const gracefulExits: { pid: number; code: number | null }[] = [];
  const unexpectedExits: { pid: number; code: number | null; signal: string | null }[] = [];
  let spawned = 0;
  const spawnWorker = (partitioned = false): WorkerProc => {
    const err = openSync(join(stderrDir, `${++spawned}.log`), 'a');
    const config: ChaosWorkerConfig =
      partitioned && proxy !== undefined ? { ...workerConfig, redis: proxy.url, workMs: PARTITION_WORK_MS } : workerConfig;
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER_SCRIPT, JSON.stringify(config)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', err],
    });
    const w: WorkerProc = {
      child,
      pid: child.pid as number,
      ready: false,
      signalled: undefined,
      partitioned,
      exit: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
    };
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) w.ready = true;
    });
    void w.exit.then(({ code, signal }) => {
      workers.splice(workers.indexOf(w), 1);
      if (w.signalled === undefined) {
        unexpectedExits.push({ pid: w.pid, code, signal });
        say(`worker ${w.pid} exited on its own (code ${String(code)}, signal ${String(signal)}); starting a replacement`);
        if (!stopping) spawnWorker(w.partitioned);
      }
    });
    workers.push(w);
    return w;
  };
  let stopping = false;
  // Whatever ends this process (an error, Ctrl-C, a closed stdout) must not leave workers or Redis running.
  const killEverything = (): void => {
    for (const w of workers) w.child.kill('SIGKILL');
    server?.process.kill('SIGKILL');
    cluster?.killNow();
    void proxy?.close();
  };
  process.once('exit', killEverything);
  const onSignal = (): void => process.exit(130);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  for (let i = 0; i < WORKERS; i++) spawnWorker();
  const partitionedWorker = proxy === undefined ? undefined : spawnWorker(true);
  for (let i = 0; i < 200 && workers.some((w) => !w.ready); i++) await sleep(50);
  say(`${workers.length} workers ready (pids ${workers.map((w) => w.pid).join(', ')}), leaseMs ${LEASE_MS}, concurrency ${CONCURRENCY}`);
  if (partitionedWorker !== undefined) say(`worker ${partitionedWorker.pid} reaches Redis through the partition proxy at ${proxy?.url}`);

  // ---- enqueue ----------------------------------------------------------------------------------------------
  const enqueued = new Map<string, ChaosJobName | ChainJobName | FanInJobName>();
  let enqueueRetries = 0;
  const enqueueMs = chaosMs * 0.9;
  const start = Date.now();
  // A tenth of the jobs are chain steps (each chain is CHAIN_STEPS.length jobs, all counted as enqueued when the chain is).
  const chains = Math.floor(totalJobs / 10 / CHAIN_STEPS.length);
  // A twentieth are fan-ins: FANIN_CHILDREN children and their parent each.
  const fanIns = Math.floor(totalJobs / 20 / (FANIN_CHILDREN + 1));
  const perType = Math.ceil((totalJobs - chains * CHAIN_STEPS.length - fanIns * (FANIN_CHILDREN + 1)) / CHAOS_JOB_NAMES.length);
  // With a partition phase, its jobs are kept back from the chaos phase (the total stays the same).
  const keptBack = proxy === undefined ? 0 : Math.min(PARTITION_PER_TYPE, Math.floor(perType / 4));
  /** Enqueues jobs `first` to `end` (exclusive) of each type, in batches spread over `spreadMs`. */
  const enqueueAll = async (first: number, end: number, spreadMs: number): Promise<void> => {
    const began = Date.now();
    const batches = Math.ceil((end - first) / BATCH) * CHAOS_JOB_NAMES.length;
    for (let b = 0; b < batches; b++) {
      const name = CHAOS_JOB_NAMES[b % CHAOS_JOB_NAMES.length] as ChaosJobName;
      const from = first + Math.floor(b / CHAOS_JOB_NAMES.length) * BATCH;
      const ns = Array.from({ length: Math.min(BATCH, end - from) }, (_, i) => from + i);
      const ids = ns.map((n) => `${ID_PREFIX[name]}-${n}`);
      for (;;) {
        try {
          // jobIds make a retried batch idempotent: ids written by a call whose answer was lost come back as duplicates.
          if (name === 'resizeImage') await client.enqueueMany(name, ns.map((n) => ({ n, width: 100 + (n % 900) })), { jobIds: ids });
          else if (name === 'chargeCard') await client.enqueueMany(name, ns.map((n) => ({ n, cents: 1 + n })), { jobIds: ids });
          else await client.enqueueMany(name, ns.map((n) => ({ n, url: `https://hooks.example.com/${n}` })), { jobIds: ids });
          break;
        } catch {
          enqueueRetries++;
          await sleep(200);
        }
      }
      for (const id of ids) enqueued.set(id, name);
      const due = began + ((b + 1) / batches) * spreadMs;
      if (due > Date.now()) await sleep(due - Date.now());
    }
  };

  /** Enqueues the chains, one after another over `spreadMs`; a failed call is retried (its jobId makes that safe). */
  const enqueueChains = async (spreadMs: number): Promise<void> => {
    const began = Date.now();
    for (let n = 0; n < chains; n++) {
      for (;;) {
        try {
          await client.chain('chainFirst', { n }, { jobId: `${CHAIN_ID_PREFIX}-${n}` }).next('chainSecond').next('chainThird').enqueue();
          break;
        } catch {
          enqueueRetries++;
          await sleep(200);
        }
      }
      CHAIN_STEPS.forEach((step, i) => enqueued.set(`${CHAIN_ID_PREFIX}-${n}/${i}`, step));
      const due = began + ((n + 1) / chains) * spreadMs;
      if (due > Date.now()) await sleep(due - Date.now());
    }
  };

  /** Enqueues the fan-ins over `spreadMs`; a failed call is retried (its jobId makes that safe). */
  const enqueueFanIns = async (spreadMs: number): Promise<void> => {
    const began = Date.now();
    for (let n = 0; n < fanIns; n++) {
      const payloads = Array.from({ length: FANIN_CHILDREN }, (_, i) => ({ n, i }));
      for (;;) {
        try {
          await client.fanIn('fanParent', { n }, { children: 'fanChild', payloads, into: 'values', jobId: `${FANIN_ID_PREFIX}-${n}` });
          break;
        } catch {
          enqueueRetries++;
          await sleep(200);
        }
      }
      enqueued.set(`${FANIN_ID_PREFIX}-${n}`, 'fanParent');
      for (let i = 0; i < FANIN_CHILDREN; i++) enqueued.set(`${FANIN_ID_PREFIX}-${n}/${i}`, 'fanChild');
      const due = began + ((n + 1) / fanIns) * spreadMs;
      if (due > Date.now()) await sleep(due - Date.now());
    }
  };

  // ---- chaos ------------------------------------------------------------------------------------------------
  const outages: { start: number; end: number }[] = [];
  const pickWorker = (): WorkerProc | undefined => {
    const candidates = workers.filter((w) => w.ready && w.signalled === undefined && !w.partitioned);
    return candidates[Math.floor(Math.random() * candidates.length)];
  };
  const killLoop = async (): Promise<void> => {
    const end = start + chaosMs;
    for (;;) {
      await sleep(between(1_000, 3_000));
      if (Date.now() > end) return;
      const w = pickWorker();
      if (w === undefined) continue;
      w.signalled = 'SIGKILL';
      w.child.kill('SIGKILL');
      kills.push({ pid: w.pid, at: Date.now(), signal: 'SIGKILL' });
      spawnWorker();
      say(`SIGKILL worker ${w.pid}; replacement started`);
    }
  };
  const gracefulStop = async (): Promise<void> => {
    await sleep(chaosMs * 0.35);
    const w = pickWorker();
    if (w === undefined) return;
    w.signalled = 'SIGTERM';
    kills.push({ pid: w.pid, at: Date.now(), signal: 'SIGTERM' });
    w.child.kill('SIGTERM');
    say(`SIGTERM worker ${w.pid} (graceful)`);
    const { code } = await w.exit;
    gracefulExits.push({ pid: w.pid, code });
    say(`worker ${w.pid} exited with code ${String(code)} after SIGTERM; replacement started`);
    spawnWorker();
  };
  const restartRedis = async (): Promise<void> => {
    await sleep(chaosMs * 0.55);
    const begin = Date.now();
    if (cluster !== undefined) {
      const node = cluster.nodes[Math.floor(Math.random() * cluster.nodes.length)];
      if (node === undefined) return;
      say(`SHUTDOWN of cluster node ${node.port} (slots ${node.slots[0]}-${node.slots[1]})`);
      await node.stop();
      await node.restart();
      say(`cluster node ${node.port} back after ${Date.now() - begin} ms; cluster healthy`);
    } else if (server !== undefined) {
      say('SHUTDOWN of Redis');
      spawnSync('redis-cli', ['-p', String(server.port), 'shutdown']);
      await server.kill();
      server = await startRedisServer({ aof: true, dir: server.dir, port: server.port });
      say(`Redis restarted on the same AOF after ${Date.now() - begin} ms`);
    }
    outages.push({ start: begin, end: Date.now() });
  };

  const enqueueDone = enqueueAll(0, perType - keptBack, enqueueMs).then(() =>
    say(`${enqueued.size} jobs enqueued (${enqueueRetries} batch retries while Redis was away)`),
  );
  const chainsDone = enqueueChains(enqueueMs).then(() => say(`${chains} chains of ${CHAIN_STEPS.length} steps enqueued`));
  const fanInsDone = enqueueFanIns(enqueueMs).then(() => say(`${fanIns} fan-ins of ${FANIN_CHILDREN} children enqueued`));
  await Promise.all([enqueueDone, chainsDone, fanInsDone, killLoop(), gracefulStop(), restartRedis()]);
  say(`chaos over: ${kills.filter((k) => k.signal === 'SIGKILL').length} SIGKILLs, 1 SIGTERM, 1 Redis restart; waiting for the queues to drain`);

  // ---- drain ------------------------------------------------------------------------------------------------
  const conn = client.redis;
  const keys = chaosJobs.queues.map((q) => queueKeys(PREFIX, q));
  const finishedCount = async (): Promise<{ finished: number; live: number }> => {
    let finished = 0;
    let live = 0;
    for (const k of keys) {
      const [done, dead, jobs, outbox] = await Promise.all([conn.hlen(k.done), conn.hlen(k.dead), conn.hlen(k.jobs), conn.hlen(k.chainOutbox)]);
      finished += done + dead;
      // A chain step or fan-in result handed on but not recorded yet is in its queue's outbox: live too.
      live += jobs + outbox;
    }
    return { finished, live };
  };
  const drain = async (): Promise<void> => {
    let last = -1;
    let lastChange = Date.now();
    for (;;) {
      const { finished, live } = await finishedCount().catch(() => ({ finished: -1, live: -1 }));
      if (finished === enqueued.size && live === 0) break;
      if (finished !== last) {
        last = finished;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > 20_000) {
        say(`no progress for 20 s: ${finished} of ${enqueued.size} finished, ${live} still live; giving up`);
        break;
      }
      await sleep(250);
    }
  };
  await drain();

  // ---- partition ----------------------------------------------------------------------------------------------
  // Last, on a quiet system, so the other workers take the cut-off worker's jobs over as soon as their leases expire
  // (during the chaos, a backlog would delay that past the partition and hide a double run).
  const partitions: Partition[] = [];
  const partitioned = workers.find((x) => x.partitioned && x.signalled === undefined);
  if (proxy !== undefined && partitioned !== undefined) {
    const starts = (): number => {
      try {
        return readFileSync(join(logDir, `${partitioned.pid}.log`), 'utf8').split('\n').filter((l) => l.startsWith('S ')).length;
      } catch {
        return 0;
      }
    };
    const before = starts();
    say(`partition phase: ${keptBack * CHAOS_JOB_NAMES.length} more jobs; worker ${partitioned.pid} runs its share slowly (${PARTITION_WORK_MS[0]}–${PARTITION_WORK_MS[1]} ms)`);
    const rest = enqueueAll(perType - keptBack, perType, 0);
    // Cut it off in the middle of its work: wait (a while at most) until its log shows handlers of this batch running.
    for (let i = 0; i < 100 && starts() - before < CONCURRENCY / 2; i++) await sleep(100);
    const begin = Date.now();
    proxy.hold();
    say(`partition: holding the traffic of worker ${partitioned.pid} (${starts() - before} handlers started) for ${(PARTITION_LEASES * LEASE_MS) / 1000} s`);
    await sleep(PARTITION_LEASES * LEASE_MS);
    proxy.resume();
    partitions.push({ pid: partitioned.pid, start: begin, end: Date.now() });
    say(`partition of worker ${partitioned.pid} healed after ${Date.now() - begin} ms`);
    await rest;
    await drain();
  } else if (keptBack > 0) {
    await enqueueAll(perType - keptBack, perType, 0);
    await drain();
  }
  say('queues drained; stopping workers');

  // ---- stop -------------------------------------------------------------------------------------------------
  stopping = true;
  for (const w of [...workers]) {
    w.signalled = 'SIGTERM';
    w.child.kill('SIGTERM');
  }
  await Promise.race([Promise.all(workers.map((w) => w.exit)), sleep(20_000)]);
  for (const w of [...workers]) w.child.kill('SIGKILL');

  // ---- evidence ---------------------------------------------------------------------------------------------
  const completed = new Map<string, string>();
  const dead = new Map<string, DeadRecord>();
  const leftovers: Record<string, Record<string, number>> = {};
  for (const k of keys) {
    for (const [id, rec] of Object.entries(await conn.hgetall(k.done))) completed.set(id, rec);
    for (const [id, json] of Object.entries(await conn.hgetall(k.deadInfo))) {
      const info = JSON.parse(json) as { reason: string; error?: { name?: string; message?: string } };
      const diedAt = Number(await conn.zscore(k.deadOrder, id));
      dead.set(id, { reason: info.reason, errorName: info.error?.name ?? '?', errorMessage: info.error?.message ?? '', diedAt });
    }
    const [wait, prio, scheduled, active, jobs, outbox] = await Promise.all([
      conn.llen(k.wait),
      conn.zcard(k.prio),
      conn.zcard(k.scheduled),
      conn.zcount(k.active, '-inf', '(+inf'),
      conn.hlen(k.jobs),
      conn.hlen(k.chainOutbox),
    ]);
    // Fan-in records left (a parent never created): keys under the queue's fan-in prefix.
    const faninRecords = (await scanKeys(conn, `${k.faninPrefix}*`)).length;
    leftovers[k.queue] = { wait, prio, scheduled, active, jobs, outbox, faninRecords };
  }
  // Chains: how many ran every step (each step is also judged as a job of its own by the analysis).
  let chainsComplete = 0;
  for (let n = 0; n < chains; n++) if (CHAIN_STEPS.every((_, i) => completed.has(`${CHAIN_ID_PREFIX}-${n}/${i}`))) chainsComplete++;
  let fanInsComplete = 0;
  for (let n = 0; n < fanIns; n++) if (completed.has(`${FANIN_ID_PREFIX}-${n}`)) fanInsComplete++;
  const records: ExecutionRecord[] = [];
  for (const file of readdirSync(logDir)) {
    records.push(...parseLog(readFileSync(join(logDir, file), 'utf8'), Number(file.replace('.log', ''))));
  }
  const report = analyse({
    leaseMs: LEASE_MS,
    enqueued,
    records,
    completed,
    dead,
    kills,
    outages,
    partitions,
    leftovers,
    gracefulExits,
    unexpectedExits,
  });

  await client.close();
  await proxy?.close();
  await cluster?.stop();
  await server?.stop();
  process.off('exit', killEverything);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  writeFileSync(join(dir, 'report.json'), JSON.stringify({ ...report, lost: report.lost.slice(0, 1000) }, null, 2));
  printReport(report, print, {
    mode: options.cluster ? 'Redis Cluster (3 masters, AOF)' : 'one Redis (AOF, appendfsync always)',
    seconds: (Date.now() - t0) / 1000,
    outages,
    enqueueRetries,
    t0,
    chains: { enqueued: chains, complete: chainsComplete },
    fanIns: { enqueued: fanIns, complete: fanInsComplete },
  });
  if (report.ok && !keep) rmSync(dir, { recursive: true, force: true });
  else print(`run folder (execution logs, worker stderr, report.json): ${dir}`);
  return report;
}

/** Every key matching `pattern` (SCAN; on a Cluster, on every master). */
async function scanKeys(conn: ReturnType<typeof createClient>['redis'], pattern: string): Promise<string[]> {
  const nodes = 'nodes' in conn && typeof conn.nodes === 'function' ? conn.nodes('master') : [conn];
  const out: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      out.push(...keys);
    } while (cursor !== '0');
  }
  return out;
}

function mkdirP(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}

function printReport(
  r: ChaosReport,
  print: (line: string) => void,
  run: {
    mode: string;
    seconds: number;
    outages: { start: number; end: number }[];
    enqueueRetries: number;
    t0: number;
    chains: { enqueued: number; complete: number };
    fanIns: { enqueued: number; complete: number };
  },
): void {
  const ms = (n: number): string => (n < 0 ? '—' : `${(n / 1000).toFixed(2)} s`);
  const recovered = r.kills.filter((k) => k.recoveredAfterMs >= 0).map((k) => k.recoveredAfterMs);
  const running = r.kills.filter((k) => k.runningAgainAfterMs >= 0).map((k) => k.runningAgainAfterMs);
  const med = (xs: number[]): number => (xs.length === 0 ? -1 : ([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number));
  print('');
  print(`== chaos summary: ${run.mode}, ${run.seconds.toFixed(0)} s ==`);
  print(`enqueued             ${r.enqueued}  (${Object.entries(r.enqueuedByType).map(([n, c]) => `${n} ${c}`).join(', ')})`);
  print(`completed            ${r.completed}`);
  print(`dead letters         ${r.dead}  (${Object.entries(r.deadByReason).map(([k, n]) => `${k}: ${n}`).join(', ') || 'none'})`);
  print(`lost                 ${r.lost.length}`);
  print(`completed + dead     ${r.completed + r.dead} of ${r.enqueued}`);
  print(`chains               ${run.chains.enqueued} enqueued (${CHAIN_STEPS.join(' → ')}, over 3 queues), ${run.chains.complete} ran every step`);
  print(`fan-ins              ${run.fanIns.enqueued} enqueued (${FANIN_CHILDREN} fanChild → fanParent), ${run.fanIns.complete} parents ran with every child's result`);
  print(
    `handler runs         ${r.executions.started} started: ${r.executions.ok} returned, ${r.executions.threw} threw, ${r.executions.aborted} stopped by their signal, ${r.executions.cutOff} cut off by SIGKILL`,
  );
  if (r.partitions.length === 0) print('partition            none (against a Cluster the client learns the nodes\' own addresses and would go around a proxy)');
  for (const p of r.partitions) {
    print(
      `partition            worker ${p.pid} cut off ${ms(p.end - p.start)} at +${((p.start - run.t0) / 1000).toFixed(1)} s (leaseMs ${(LEASE_MS / 1000).toFixed(1)} s): ${p.inFlight} run(s) in flight, ${p.aborted} stopped by their signal during it, ${p.takenOver} job(s) taken over by other workers meanwhile`,
    );
  }
  print(`concurrent runs      ${r.concurrentDoubleRuns.length} job(s) ran on two workers at the same time`);
  const m = r.runMoreThanOnce;
  print(
    `run more than once   ${m.total}  (in flight at a SIGKILL: ${m.inFlightAtKill}, around the Redis restart: ${m.redisRestart}, lease lost in a live worker: ${m.leaseLostInLiveWorker}, unexplained: ${m.unexplained.length})`,
  );
  print(
    `Redis restart        ${run.outages.map((o) => `down ${ms(o.end - o.start)} at +${((o.start - run.t0) / 1000).toFixed(1)} s`).join(', ')}; ${run.enqueueRetries} enqueue batch retries`,
  );
  print(
    `SIGKILLs             ${r.kills.length}; their in-flight jobs recovered from expired leases after: max ${ms(Math.max(-1, ...recovered))}, median ${ms(med(recovered))} (leaseMs ${(LEASE_MS / 1000).toFixed(1)} s)`,
  );
  print(`                     running again (recovery + backoff + queue wait): max ${ms(Math.max(-1, ...running))}, median ${ms(med(running))}`);
  for (const [i, k] of r.kills.entries()) {
    print(
      `  kill ${String(i + 1).padStart(2)} at +${((k.at - run.t0) / 1000).toFixed(1).padStart(5)} s  pid ${k.pid}: ${String(k.inFlight).padStart(3)} in flight, recovered after ${ms(k.recoveredAfterMs)} (median ${ms(k.recoveredMedianMs)}), running again after ${ms(k.runningAgainAfterMs)}${k.unrecovered ? `, ${k.unrecovered} NEVER` : ''}`,
    );
  }
  print(r.ok ? 'RESULT: PASS (nothing lost, every count adds up)' : 'RESULT: FAIL');
  for (const p of r.problems) print(`  problem: ${p}`);
}

// ---- command line -------------------------------------------------------------------------------------------

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const value = (flag: string): number | undefined => {
    const i = args.indexOf(flag);
    return i === -1 ? undefined : Number(args[i + 1]);
  };
  const report = await runChaos({
    quick: args.includes('--quick'),
    cluster: args.includes('--cluster'),
    keep: args.includes('--keep') ? true : undefined,
    jobs: value('--jobs'),
    seconds: value('--seconds'),
  });
  process.exit(report.ok ? 0 : 1);
}
