/**
 * The fetch loop against fakes, without Redis or a worker (src/worker/fetch-loop.ts): everything it needs is its
 * host interface (slots, leased jobs), its params (the scripts, the blocking connection) and its queue's pending
 * acknowledgements — so a fake of each is enough to watch it lease, carry acknowledgements, block and stop.
 * No timings are asserted: each step is awaited by condition.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { queueKeys } from '../../src/keys.js';
import type { OwnedConnection } from '../../src/redis.js';
import type { FetchResult, LeasedJob, Scripts } from '../../src/scripts.js';
import { FetchLoop, type FetchLoopHost, type PendingAcks } from '../../src/worker/fetch-loop.js';
import type { JobRun } from '../../src/worker/job-run.js';

async function waitFor<T>(check: () => T, what: string): Promise<NonNullable<T>> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const value = check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A call the loop made to the fetch script. */
interface FetchCall {
  readonly want: number;
  readonly acks: readonly JobRun[];
  answer(res: Partial<FetchResult>): void;
}

/**
 * A connection that is up: records pushes, and hands each blocking read to the test to answer. A push to a list a
 * read of `blocked` watches answers it, as Redis would.
 */
class FakeRedis extends EventEmitter {
  status = 'ready';
  blocked: FakeRedis | undefined;
  readonly pushes: string[] = [];
  readonly reads: { keys: string[]; answer: (value: [string, string] | null) => void }[] = [];
  rpush(key: string): Promise<number> {
    this.push(key);
    return Promise.resolve(1);
  }
  private push(key: string): void {
    this.pushes.push(key);
    for (const r of this.blocked?.reads ?? []) if (r.keys.includes(key)) r.answer([key, '1']);
  }
  multi() {
    const chain = {
      rpush: (key: string) => (this.push(key), chain),
      pexpire: () => chain,
      exec: () => Promise.resolve([]),
    };
    return chain;
  }
  blpop(...args: unknown[]): Promise<[string, string] | null> {
    return new Promise((answer) => this.reads.push({ keys: args.slice(0, 2) as string[], answer }));
  }
  disconnect(): void {
    for (const r of this.reads.splice(0)) r.answer(null);
  }
}

const keys = queueKeys('t', 'q');

function setup(free = 4) {
  const calls: FetchCall[] = [];
  const command = new FakeRedis();
  const blocking = new FakeRedis();
  command.blocked = blocking;
  const scripts = {
    redis: command,
    fetch: (...a: unknown[]) =>
      new Promise<FetchResult>((resolve) => {
        // fetch(keys, { want, acks, … })
        const { want, acks } = a[1] as { want: number; acks: readonly JobRun[] };
        calls.push({ want, acks, answer: (r) => resolve({ nextDueMs: -1, staleAcks: [], jobs: [], ...r }) });
      }),
  } as unknown as Scripts;
  const state = { free, reserved: 0, idle: false, drained: 0, accepted: [] as LeasedJob[], released: [] as [number, number][], errors: [] as string[] };
  const host: FetchLoopHost = {
    reserveSlots: (_q, max = Infinity) => {
      const n = Math.min(state.free - state.reserved, max);
      state.reserved += n;
      return Math.max(0, n);
    },
    releaseSlots: (_q, n, used) => {
      state.reserved -= n;
      state.free -= used;
      state.released.push([n, used]);
    },
    wantsJobs: () => state.free - state.reserved > 0,
    hasFreeSlots: () => state.free - state.reserved > 0,
    batchMax: () => 2,
    get bufferedCount() {
      return 1;
    },
    setIdle: (_q, idle) => void (state.idle = idle),
    queueDrained: () => void state.drained++,
    kickFetchers: () => {},
    accept: (_q, leased) => void state.accepted.push(...leased),
    track: (p) => p,
    reportError: (err, what) => void state.errors.push(`${what}: ${String(err)}`),
  };
  const recorded: { runs: readonly JobRun[]; stale: readonly string[] }[] = [];
  const pending: JobRun[] = [];
  const acks: PendingAcks & { firstAt: number; urgent: boolean; add(run: JobRun): void } = {
    get length() {
      return pending.length;
    },
    firstAt: 0,
    urgent: false,
    take: () => pending.splice(0),
    putBack: (runs) => void pending.unshift(...runs),
    recorded: (runs, stale) => void recorded.push({ runs, stale }),
    add(run) {
      if (pending.length === 0) this.firstAt = performance.now();
      pending.push(run);
      loop.acksWaiting(pending.length);
    },
  };
  const loop = new FetchLoop(host, {
    keys,
    scripts,
    blocking: { redis: blocking, owned: true } as unknown as OwnedConnection,
    idleBlockMs: 5_000,
    park: false,
    types: [],
    leaseMs: 30_000,
    keepCount: 10,
    keepAgeMs: 60_000,
    maxDead: 10,
    maxEnvelopeBytes: 1_000,
    acks,
  });
  return { loop, calls, state, acks, recorded, command, blocking };
}

const job = (id: string): LeasedJob => ({ id, raw: '{}', attempt: 1 });
const run = (id: string) => ({ id, attempt: 1 }) as JobRun;

let stopAll: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stopAll.map((s) => s()));
  stopAll = [];
});

function started(free?: number) {
  const s = setup(free);
  s.loop.start();
  stopAll.push(async () => {
    const stopping = s.loop.stop();
    // Answer whatever is still outstanding so the loop can end.
    for (const c of s.calls.splice(0)) c.answer({});
    await stopping;
  });
  return s;
}

describe('FetchLoop', () => {
  it('reserves at most a batch of slots, leases with one call and hands the jobs to its host', async () => {
    const { calls, state } = started();
    const first = await waitFor(() => calls[0], 'the first fetch');
    expect(first.want).toBe(2);
    expect(first.acks).toEqual([]);
    first.answer({ jobs: [job('a'), job('b')] });
    await waitFor(() => state.accepted.length === 2, 'the jobs taken in');
    expect(state.accepted.map((j) => j.id)).toEqual(['a', 'b']);
    expect(state.released[0]).toEqual([2, 2]);
  });

  it('carries waiting acknowledgements on its next fetch and hands their answer back to them', async () => {
    const { calls, acks, recorded } = started();
    const first = await waitFor(() => calls[0], 'the first fetch');
    acks.add(run('done-1'));
    acks.add(run('done-2'));
    first.answer({ jobs: [job('a'), job('b')] }); // a full answer: the loop fetches again at once
    const second = await waitFor(() => calls[1], 'the second fetch');
    expect(second.acks.map((r) => r.id)).toEqual(['done-1', 'done-2']);
    expect(second.want).toBeGreaterThan(0); // the same call leases too
    second.answer({ staleAcks: ['done-2'] });
    await waitFor(() => recorded.length === 1, 'the acknowledgements recorded');
    expect(recorded[0]?.stale).toEqual(['done-2']);
  });

  it('blocks on the wake-up list once the queue is empty, marked idle, and fetches again on a wake-up', async () => {
    const { calls, state, blocking } = started();
    (await waitFor(() => calls[0], 'the first fetch')).answer({ jobs: [job('a')] }); // fewer than asked: empty
    const read = await waitFor(() => blocking.reads[0], 'the blocking read');
    expect(read.keys[0]).toBe(keys.notify);
    expect(read.keys[1]).toMatch(/:notify:unblock:/);
    expect(state.idle).toBe(true);
    expect(state.drained).toBe(1);
    read.answer([keys.notify, '1']);
    await waitFor(() => calls.length === 2, 'the fetch after the wake-up');
    expect(state.idle).toBe(false);
  });

  it('sends an acknowledgement alone while blocked (asking for no jobs), without waiting for a wake-up', async () => {
    const { calls, acks, blocking, recorded } = started();
    (await waitFor(() => calls[0], 'the first fetch')).answer({});
    await waitFor(() => blocking.reads[0], 'the blocking read');
    acks.add(run('done'));
    const alone = await waitFor(() => calls[1], 'the acknowledgement call');
    expect(alone.want).toBe(0);
    expect(alone.acks.map((r) => r.id)).toEqual(['done']);
    alone.answer({});
    await waitFor(() => recorded.length === 1, 'the acknowledgement recorded');
  });

  it('sends an acknowledgement that carries a result at once while blocked, not after the coalescing delay', async () => {
    const { calls, acks, blocking } = started();
    (await waitFor(() => calls[0], 'the first fetch')).answer({});
    await waitFor(() => blocking.reads[0], 'the blocking read');
    acks.urgent = true;
    acks.add(run('with-result'));
    // Sent within the same turn of the event loop (a few microtasks), before any timer could fire.
    await new Promise((resolve) => setImmediate(resolve));
    const sent = calls[1];
    expect(sent?.want).toBe(0);
    expect(sent?.acks.map((r) => r.id)).toEqual(['with-result']);
    sent?.answer({});
  });

  it('on stop, sends the waiting acknowledgements and ends its blocking read through its unblock list', async () => {
    const s = setup();
    s.loop.start();
    (await waitFor(() => s.calls[0], 'the first fetch')).answer({});
    const read = await waitFor(() => s.blocking.reads[0], 'the blocking read');
    s.acks.add(run('done'));
    const alone = await waitFor(() => s.calls[1], 'the acknowledgement call');
    s.acks.add(run('late'));
    const stopped = s.loop.stop();
    alone.answer({}); // acknowledgement calls go one at a time
    const flushed = await waitFor(() => s.calls[2], 'the acknowledgements sent at stop');
    expect(flushed.acks.map((r) => r.id)).toEqual(['late']);
    flushed.answer({});
    expect(s.command.pushes).toEqual([read.keys[1]]); // the push that ends the read
    await stopped;
    expect(s.state.errors).toEqual([]);
  });
});
