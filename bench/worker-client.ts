/**
 * Starts bench/worker-process.ts in a child process and drives it (see the protocol there). With a compiled copy
 * (bench/compile.ts) the child is plain `node` on JavaScript; without one it runs the TypeScript through tsx.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, DoneMessage, ProgressMessage, WorkerConfig } from './worker-process.js';

const ENTRY = fileURLToPath(new URL('./worker-process.ts', import.meta.url));

export interface SpawnOptions {
  /**
   * The compiled worker-process.js to run under plain `node` (bench/compile.ts). Without it the child runs
   * worker-process.ts with `--import tsx`, which adds tsx's loader (memory and CPU) to whatever is measured.
   */
  readonly entry?: string | undefined;
  /** Write a V8 CPU profile of the child into this folder (`node --cpu-prof`). */
  readonly cpuProfDir?: string | undefined;
  /** Extra node options for the child (e.g. `--max-semi-space-size=4` in bench/memory.ts). */
  readonly nodeArgs?: readonly string[];
  /** Extra environment variables for the child (e.g. BENCH_TRACE=1). */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * The child's environment: the harness's, with `options.env` on top. A compiled child gets no NODE_OPTIONS, so no
 * loader the harness runs under (tsx, a test runner's) reaches it.
 */
function childEnv(options: SpawnOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  if (options.entry !== undefined) delete env.NODE_OPTIONS;
  return env;
}

/** One worker process. */
export class WorkerProcess {
  private readonly child: ChildProcess;
  private readonly waiters = new Map<ChildMessage['type'], { resolve: (m: ChildMessage) => void; reject: (e: Error) => void }>();
  private readonly seen = new Map<ChildMessage['type'], ChildMessage>();
  private readonly progressWaiters: { resolve: (m: ProgressMessage) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;
  private killed = false;
  private readonly exited: Promise<void>;

  constructor(readonly config: WorkerConfig, options: SpawnOptions = {}) {
    const execArgv = [...(options.entry === undefined ? ['--import', 'tsx'] : []), ...(options.nodeArgs ?? [])];
    if (options.cpuProfDir !== undefined) execArgv.push('--cpu-prof', '--cpu-prof-dir', options.cpuProfDir);
    this.child = fork(options.entry ?? ENTRY, [JSON.stringify(config)], { execArgv, env: childEnv(options), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: ChildMessage) => {
      if (m.type === 'error') return this.fail(new Error(`worker process (${config.lib}) failed: ${m.message}`));
      if (m.type === 'progress') return this.progressWaiters.shift()?.resolve(m);
      this.seen.set(m.type, m);
      this.waiters.get(m.type)?.resolve(m);
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        if (!this.seen.has('closed')) this.fail(new Error(`worker process (${config.lib}) exited early (code ${code}, signal ${signal})`));
        resolve();
      }),
    );
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiters.values()) w.reject(err);
    for (const w of this.progressWaiters.splice(0)) w.reject(err);
  }

  /** Waits for a message of `type` (or fails after `timeoutMs`). */
  private wait<T extends ChildMessage>(type: T['type'], timeoutMs: number): Promise<T> {
    const already = this.seen.get(type);
    if (already !== undefined) return Promise.resolve(already as T);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker process (${this.config.lib}): no "${type}" within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.set(type, {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  /** The child's process id (its --cpu-prof files carry it in their names). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Resolves once the child has loaded its modules. */
  loaded(): Promise<void> {
    return this.wait('loaded', 30_000).then(() => undefined);
  }

  /** Creates the worker in the child; resolves once it is connected. */
  async start(): Promise<void> {
    await this.loaded();
    this.child.send({ type: 'start' }, (err) => err && this.fail(err));
    await this.wait('ready', 30_000);
  }

  /** Waits until the worker has completed its `expect` jobs. */
  done(timeoutMs: number): Promise<DoneMessage> {
    return this.wait<DoneMessage>('done', timeoutMs);
  }

  /** A fleet worker's completions so far (config `fleet: true`). */
  progress(): Promise<ProgressMessage> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.progressWaiters.push({ resolve, reject });
      this.child.send({ type: 'report' }, (err) => err && this.fail(err));
    });
  }

  /** Closes the worker and waits for the process to exit (killing it after 20 s). */
  async close(): Promise<void> {
    if (!this.killed && this.child.connected) this.child.send({ type: 'close' }, () => {}); // a callback: errors there, not thrown
    const timer = setTimeout(() => this.kill(), 20_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** Stops the child at once. */
  kill(): void {
    this.killed = true;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
