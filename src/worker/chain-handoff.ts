/**
 * Chain and fan-in hand-offs (docs/results.md, "Chains", "Fan-in"): creates the next step of a chain once the
 * acknowledgement of the step before it recorded it in that step's queue's outbox (or a fan-in's child, recorded by
 * the fan-in's creation; or records a fan-in child's end for its parent), then removes the outbox entry. The two queues may be in
 * different Redis Cluster slots, so this is two calls, made safe to repeat: the next step's id is fixed by the chain
 * id and its index, and enqueue.lua writes nothing for an id its queue knows (live, dead, or completed and kept). A
 * worker that dies between the two leaves the entry; {@link ChainHandoffs.sweep} (run with lease recovery) finishes it.
 */
import { parseOutboxEntry } from '../chain.js';
import { queueKeys, readySetOf, type QueueKeys } from '../keys.js';
import { recordFaninEnd } from '../fan-in.js';
import type { Logger } from '../logger.js';
import type { Scripts } from '../scripts.js';

/**
 * How old an outbox entry must be before the sweep takes it over (its worker had that long to finish it): the lease
 * time, at most this (10 s).
 */
export const MAX_HANDOFF_SWEEP_AGE_MS = 10_000;
/** Outbox entries one sweep looks at per queue. */
const SWEEP_BATCH = 100;

/** What hand-offs need (their params). */
export interface ChainHandoffParams {
  readonly scripts: Scripts;
  readonly prefix: string;
  readonly logger: Logger;
  /** The worker's lease time: an entry older than it (at most 10 s) is taken over by the sweep. */
  readonly leaseMs: number;
  /** Dead letters kept per queue (a fan-in's parent dead under policy 'fail'). */
  readonly maxDead: number;
  /** Tracks a Redis call that close() waits for. */
  track<T>(promise: Promise<T>): Promise<T>;
  reportError(err: unknown, what: string): void;
  /**
   * A fan-in's parent `id` in `queue` went to the dead letters (`child_failed`) when this worker recorded its last
   * child: the worker announces it like any death (its `dead` event, hence its metrics).
   */
  parentDead?(queue: string, id: string): void;
}

export class ChainHandoffs {
  private readonly keys = new Map<string, QueueKeys>();
  /** Entries being handed off by this worker now (an outbox field each): the sweep leaves them alone. */
  private readonly inFlight = new Set<string>();

  constructor(private readonly p: ChainHandoffParams) {}

  private keysOf(queue: string): QueueKeys {
    let k = this.keys.get(queue);
    if (k === undefined) this.keys.set(queue, (k = queueKeys(this.p.prefix, queue)));
    return k;
  }

  /**
   * Creates step `next` from its outbox entry (`outbox` is the hash holding it), then removes the entry. A failure is
   * reported and leaves the entry for the sweep.
   */
  handOff(outbox: string, next: string, entry: string): Promise<void> {
    const mark = `${outbox}\u0000${next}`;
    if (this.inFlight.has(mark)) return Promise.resolve();
    this.inFlight.add(mark);
    return this.p
      .track(this.create(outbox, next, entry))
      .catch((err: unknown) => this.p.reportError(err, `creating step ${JSON.stringify(next)} of a chain (the sweep tries again)`))
      .finally(() => this.inFlight.delete(mark));
  }

  private async create(outbox: string, next: string, raw: string): Promise<void> {
    const p = this.p;
    const e = parseOutboxEntry(raw);
    if (e !== undefined && 'k' in e) {
      // A fan-in child ended: recorded for its parent (idempotent per child), the last one creates the parent.
      if ((await recordFaninEnd(p.scripts, this.keysOf(e.q), e, p.maxDead)) === 3) p.parentDead?.(e.q, e.p);
    } else if (e !== undefined) {
      const k = this.keysOf(e.q);
      // A repeated hand-off finds the id known (live, dead or completed) and writes nothing.
      await p.scripts.enqueue(k, { delayMs: 0, priority: e.r ?? 0, idPrefix: '', items: [next, e.e], readySet: readySetOf(k, { name: e.n, throttle: e.y }) });
    } else {
      p.logger.error(`chain outbox ${outbox}: the entry for step ${JSON.stringify(next)} is not one jobcraft writes; removed`);
    }
    await p.scripts.redis.hdel(outbox, next);
  }

  /**
   * Finishes the hand-offs of queue `k` that a worker left half-done (it died, or Redis failed it between the two
   * calls): entries older than the lease time (at most {@link MAX_HANDOFF_SWEEP_AGE_MS}), among the first 100 per call.
   */
  async sweep(k: QueueKeys): Promise<void> {
    // HLEN, HKEYS and HMGET (commands a worker's ACL already allows: docs/configuration.md); an outbox is empty but for
    // hand-offs in flight, so HKEYS is short, and only read when something is there.
    const redis = this.p.scripts.redis;
    // Plain commands answer a key of the wrong type without naming it (the scripts name it: _lib.lua check_types).
    const named = (err: unknown): never => {
      const message = err instanceof Error ? err.message : String(err);
      throw message.startsWith('WRONGTYPE') ? new Error(`WRONGTYPE jobcraft: key ${k.chainOutbox} (the chain outbox) is not a hash: ${message}`, { cause: err }) : err;
    };
    if ((await this.p.track(redis.hlen(k.chainOutbox)).catch(named)) === 0) return;
    const names = (await this.p.track(redis.hkeys(k.chainOutbox)).catch(named)).slice(0, SWEEP_BATCH);
    const values = await this.p.track(redis.hmget(k.chainOutbox, ...names)).catch(named);
    const fields: string[] = [];
    names.forEach((name, i) => {
      const value = values[i];
      if (typeof value === 'string') fields.push(name, value);
    });
    const now = Date.now();
    const age = Math.min(this.p.leaseMs, MAX_HANDOFF_SWEEP_AGE_MS);
    const work: Promise<void>[] = [];
    for (let i = 0; i + 1 < fields.length && work.length < SWEEP_BATCH; i += 2) {
      const next = fields[i] as string;
      const raw = fields[i + 1] as string;
      const e = parseOutboxEntry(raw);
      if (e !== undefined && now - e.w < age) continue;
      work.push(this.handOff(k.chainOutbox, next, raw));
    }
    await Promise.all(work);
  }
}
