import { decodeEnvelope } from './payload.js';
import { boundIssues, earlierErrorsOf, parseStoredError, storedErrorJson, storedTime, type PayloadIssue, type StoredError } from './errors.js';
import { MAX_DEAD_INFO_BYTES, MAX_ISSUES_IN_MESSAGE, fitsBytes } from './bounds.js';
import type { QueueKeys } from './keys.js';
import type { Scripts } from './scripts.js';
import type { ThrottledType } from './throttle.js';

/** Why a job ended in the dead letters. */
export type DeadReason =
  /** Every attempt failed. */
  | 'attempts_exhausted'
  /** The handler threw `PermanentError`. */
  | 'permanent_error'
  /** The stored payload failed the job's schema at dequeue. */
  | 'invalid_payload'
  /** No job of that name is declared. */
  | 'unknown_job'
  /** The stored job was not readable (bad JSON, wrong shape, missing). */
  | 'malformed_job'
  /** The handler returned a value that is not a valid result (schema, JSON round trip, size): docs/results.md. */
  | 'invalid_result'
  /** A fan-in's parent under policy `fail` whose child died (docs/results.md, "Fan-in"): it never ran. */
  | 'child_failed';

/** What the dead letters keep about a job, next to the job itself. */
export interface DeadInfo {
  readonly reason: DeadReason;
  readonly error: StoredError;
  readonly attempts: number;
  readonly diedAt: number;
  /** zod issues, for `invalid_payload`. */
  readonly issues?: readonly PayloadIssue[];
  /**
   * The job's errors before the one it died with, oldest first (at most 4, `MAX_EARLIER_ERRORS`): written by
   * dead.lua from the job's error record, so {@link deadInfoJson} never writes it.
   */
  readonly earlier?: readonly StoredError[];
}

/**
 * The JSON of a dead letter's info record, at most {@link MAX_DEAD_INFO_BYTES} (64 KiB): the error is bounded as in
 * the `errors` hash (32 KiB) and the issues to 20 short entries (about 30 KiB at most); should JSON escapes still
 * push it over, the issues are cut to 5 and then dropped (their count stays in the error's message).
 */
export function deadInfoJson(info: DeadInfo): string {
  const error = storedErrorJson(info.error);
  const head = `{"reason":${JSON.stringify(info.reason)},"attempts":${info.attempts},"diedAt":${info.diedAt},"error":${error}`;
  if (info.issues === undefined) return `${head}}`;
  const issues = boundIssues(info.issues);
  for (const keep of [issues.length, MAX_ISSUES_IN_MESSAGE]) {
    const json = `${head},"issues":${JSON.stringify(issues.slice(0, keep))}}`;
    if (fitsBytes(json, MAX_DEAD_INFO_BYTES)) return json;
  }
  return `${head},"issues":[]}`;
}

/** One dead letter as the API returns it. */
export interface DeadLetter {
  readonly id: string;
  readonly queue: string;
  /** Job name, when the stored job could be read. */
  readonly name: string | undefined;
  /** Payload as stored (input form), when it could be read. */
  readonly payload: unknown;
  /** The stored job exactly as it was in Redis. */
  readonly raw: string;
  readonly reason: DeadReason;
  /** The last error: message and stack. */
  readonly error: StoredError;
  /**
   * Every error the dead letter keeps, oldest first: up to 4 earlier ones (`MAX_EARLIER_ERRORS`; message cut to
   * 2 KiB, stack to 4 KiB), then {@link DeadLetter.error}, always the last entry. Dead letters written before
   * jobcraft kept a history hold only that one.
   */
  readonly errors: readonly StoredError[];
  /** Attempts started. */
  readonly attempts: number;
  readonly diedAt: Date;
  readonly issues?: readonly PayloadIssue[];
}

/** Reads a dead-letter info record; a corrupt one still yields an entry that says so. */
export function parseDeadInfo(json: string | null): DeadInfo {
  try {
    const v = JSON.parse(json ?? '') as Partial<DeadInfo>;
    if (typeof v === 'object' && v !== null && typeof v.reason === 'string') {
      return {
        reason: v.reason,
        error: parseStoredError(JSON.stringify(v.error ?? null)) ?? { name: 'Error', message: '(no error recorded)', at: 0 },
        attempts: Number(v.attempts ?? 0),
        diedAt: storedTime(v.diedAt ?? 0),
        issues: v.issues,
        earlier: earlierErrorsOf(v),
      };
    }
  } catch {
    // fall through
  }
  return { reason: 'malformed_job', error: { name: 'CorruptDeadLetter', message: 'unreadable dead-letter record', at: 0 }, attempts: 0, diedAt: 0 };
}

/** Builds the API view of a dead letter. */
export function toDeadLetter(queue: string, id: string, raw: string, infoJson: string | null): DeadLetter {
  const info = parseDeadInfo(infoJson);
  const decoded = decodeEnvelope(raw);
  return {
    id,
    queue,
    name: decoded.ok ? decoded.envelope.n : undefined,
    payload: decoded.ok ? decoded.envelope.p : undefined,
    raw,
    reason: info.reason,
    error: info.error,
    errors: [...(info.earlier ?? []), info.error],
    attempts: info.attempts,
    diedAt: new Date(info.diedAt),
    issues: info.issues,
  };
}

/** Reading and managing one queue's dead letters. Reached through `client.deadLetters`. */
export class QueueDeadLetters {
  constructor(
    private readonly scripts: Scripts,
    private readonly keys: QueueKeys,
    private readonly types: readonly ThrottledType[],
    /** The unique-lock TTL of a job type, for dead letters that go back as unique jobs. */
    private readonly uniqueTtlOf: (job: string) => number | undefined,
    /**
     * Runs each Redis call: the client passes its time limit, transient-refusal retry and error mapping. Called
     * with a function so that it may run it again when Redis refused it without running it.
     */
    private readonly bound: <T>(call: () => Promise<T>, what: string) => Promise<T>,
  ) {}

  private what(op: string): string {
    return `deadLetters.${op} "${this.keys.queue}"`;
  }

  /** Each id with the unique lock its job must take again, if it is a unique job. */
  private async withLocks(ids: readonly string[]): Promise<{ id: string; lock?: string; ttlMs?: number }[]> {
    const raws = await this.scripts.redis.hmget(this.keys.dead, ...ids);
    return ids.map((id, i) => {
      const decoded = decodeEnvelope(raws[i] ?? null);
      if (!decoded.ok || decoded.envelope.u === undefined) return { id };
      return { id, lock: this.keys.uniquePrefix + decoded.envelope.u, ttlMs: this.uniqueTtlOf(decoded.envelope.n) };
    });
  }

  /** How many dead letters the queue holds. */
  count(): Promise<number> {
    return this.bound(() => this.scripts.redis.zcard(this.keys.deadOrder), this.what('count'));
  }

  /** Dead letters, newest first. */
  async list(offset = 0, limit = 50): Promise<DeadLetter[]> {
    if (limit <= 0) return [];
    return this.bound(() => this.readList(offset, limit), this.what('list'));
  }

  private async readList(offset: number, limit: number): Promise<DeadLetter[]> {
    const ids = await this.scripts.redis.zrevrange(this.keys.deadOrder, offset, offset + limit - 1);
    if (ids.length === 0) return [];
    const [raws, infos] = await Promise.all([
      this.scripts.redis.hmget(this.keys.dead, ...ids),
      this.scripts.redis.hmget(this.keys.deadInfo, ...ids),
    ]);
    const out: DeadLetter[] = [];
    ids.forEach((id, i) => {
      const raw = raws[i];
      if (raw !== null && raw !== undefined) out.push(toDeadLetter(this.keys.queue, id, raw, infos[i] ?? null));
    });
    return out;
  }

  /** One dead letter, or `undefined`. */
  async get(id: string): Promise<DeadLetter | undefined> {
    const [raw, info] = await this.bound(
      () => Promise.all([this.scripts.redis.hget(this.keys.dead, id), this.scripts.redis.hget(this.keys.deadInfo, id)]),
      this.what('get'),
    );
    return raw === null ? undefined : toDeadLetter(this.keys.queue, id, raw, info);
  }

  /**
   * Puts dead letters back in the queue with fresh attempts. Returns the ids put back; one whose id is live again,
   * or whose unique key a live job holds, stays in the dead letters.
   */
  async retry(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    return this.bound(async () => this.scripts.deadRetry(this.keys, { types: this.types, letters: await this.withLocks(ids) }), this.what('retry'));
  }

  /** Puts every dead letter back, in batches of 500. Returns how many. */
  async retryAll(): Promise<number> {
    let total = 0;
    // Dead letters that cannot go back (their id or unique key is live) stay at the front: page past them.
    let stuck = 0;
    for (;;) {
      const from = stuck;
      const ids = await this.bound(() => this.scripts.redis.zrange(this.keys.deadOrder, from, from + 499), this.what('retryAll'));
      if (ids.length === 0) return total;
      const moved = await this.retry(ids);
      total += moved.length;
      stuck += ids.length - moved.length;
    }
  }

  /** Deletes dead letters. Returns how many existed. */
  delete(ids: readonly string[]): Promise<number> {
    return this.bound(() => this.scripts.deadDelete(this.keys, { ids }), this.what('delete'));
  }

  /** Deletes every dead letter of the queue. Returns how many there were. */
  async purge(): Promise<number> {
    const replies = await this.bound(
      () => this.scripts.redis.multi().zcard(this.keys.deadOrder).del(this.keys.dead, this.keys.deadInfo, this.keys.deadOrder).exec(),
      this.what('purge'),
    );
    return Number(replies?.[0]?.[1] ?? 0);
  }
}
