/**
 * The read API over a prefix's queues ({@link Inspector}): queue state, paged job listings, one job's record, the
 * worker registry and the history. Nothing here scans keys or loads a whole queue: the queues come from the queue
 * registry, counts from one stats.lua call per queue, listings from windows of one index (LRANGE / ZRANGE) and the
 * records of the ids in the window. Definitions: docs/operations.md ("Data"); keys: docs/redis-layout.md.
 */
import { jobNamed } from './define.js';
import { parseDeadInfo } from './dead-letters.js';
import { InvalidArgumentError, parseStoredError, type StoredError } from './errors.js';
import { jobInfoFrom } from './job-info.js';
import { decodeEnvelope, parseTraceContext } from './payload.js';
import { QUEUE_NAME_PATTERN } from './job-options.js';
import {
  DEFAULT_PREFIX,
  PREFIX_PATTERN,
  queueKeys,
  queueOfGeneratedId,
  queueRegistryKey,
  typeKeys,
  workerRegistryKeys,
  type QueueKeys,
} from './keys.js';
import { openOpsConnection } from './ops-connection.js';
import { release } from './redis.js';
import { parseQueueEntry } from './registry.js';
import { Scripts, VARIABLE_KEY_COMMANDS } from './scripts.js';
import { HOUR_MS, MINUTE_MS } from './worker/history.js';
import {
  HISTORY_BUCKETS_MS,
  type DurationSummary,
  type History,
  type HistoryCounts,
  type HistoryOptions,
  type HistoryPoint,
  type Inspector,
  type InspectorOptions,
  type JobDetails,
  type JobPage,
  type ListedJob,
  type ListOptions,
  type ListState,
  type QueueEntry,
  type QueueStats,
  type RunningJob,
  type WorkerInfo,
} from './inspect-types.js';

/** A listing reads at most this many entries per page. */
export const MAX_PAGE = 1_000;
/** A history read covers at most this many buckets. */
export const MAX_HISTORY_BUCKETS = 2_880;
/**
 * A listing reads this much of each stored job: enough for its name and enqueue time (`{"n":"<≤100 chars>","t":…`),
 * so a page never carries payloads (up to maxPayloadBytes each) out of Redis.
 */
const LISTED_HEAD_BYTES = 256;
/** How long the queue registry read by `stats` is reused. */
const REGISTRY_CACHE_MS = 5_000;
/** The start of the member that keeps an active set's encoding (_lib.lua ACTIVE_GUARD); no job id starts with '#'. */
const ACTIVE_GUARD_PREFIX = '#jobcraft:active-set-encoding-guard:';
const LIST_STATES_SET = new Set<ListState>(['waiting', 'delayed', 'retrying', 'active', 'dead', 'completed']);

/** Name and enqueue time at the start of an envelope jobcraft wrote (`{"n":"…","t":…`), without parsing the payload. */
export function envelopeHead(raw: string | null | undefined): { name: string | undefined; t: number | undefined } {
  if (raw === null || raw === undefined) return { name: undefined, t: undefined };
  const m = /^\{"n":"([^"\\]*)","t":(\d+)/.exec(raw);
  if (m === null) return { name: undefined, t: undefined };
  return { name: m[1], t: Number(m[2]) };
}

/** A listing cursor: a source (for waiting jobs: `w`, `p`, or `t` + a throttled type) and an offset in it. */
export interface Cursor {
  readonly source: string;
  readonly offset: number;
}

/** Encodes a cursor (`<source>:<offset>`; a source never holds `:` at its end, a job name never holds `:`). */
export function encodeCursor(c: Cursor): string {
  return `${c.source}:${c.offset}`;
}

/** Decodes a cursor; throws InvalidArgumentError on one this API did not make. */
export function decodeCursor(text: string): Cursor {
  const at = text.lastIndexOf(':');
  const offset = Number(text.slice(at + 1));
  if (at < 0 || !Number.isSafeInteger(offset) || offset < 0) throw new InvalidArgumentError('inspector.jobs', 'cursor', `not a cursor of this listing: ${JSON.stringify(text)}`);
  return { source: text.slice(0, at), offset };
}

/** Sums per-bucket counters (`<job>|<counter>` fields of one bucket hash) into the counts of each job type. */
export function parseBucket(fields: Readonly<Record<string, string>>): Map<string, Record<string, number>> {
  const byJob = new Map<string, Record<string, number>>();
  for (const [field, value] of Object.entries(fields)) {
    const bar = field.lastIndexOf('|');
    if (bar <= 0) continue;
    const job = field.slice(0, bar);
    let c = byJob.get(job);
    if (c === undefined) byJob.set(job, (c = {}));
    c[field.slice(bar + 1)] = (c[field.slice(bar + 1)] ?? 0) + Number(value);
  }
  return byJob;
}

const summary = (c: Readonly<Record<string, number>>, prefix: 'rt' | 'wt'): DurationSummary => {
  const buckets = HISTORY_BUCKETS_MS.map((_, i) => c[`${prefix}${i}`] ?? 0);
  buckets.push(c[`${prefix}${HISTORY_BUCKETS_MS.length}`] ?? 0);
  return { count: buckets.reduce((a, b) => a + b, 0), sumMs: c[`${prefix}s`] ?? 0, buckets };
};

/** One job type's counters as {@link HistoryCounts}. */
export function countsOf(c: Readonly<Record<string, number>>): HistoryCounts {
  return { processed: c['p'] ?? 0, failed: c['f'] ?? 0, retried: c['r'] ?? 0, dead: c['d'] ?? 0, runTime: summary(c, 'rt'), waitTime: summary(c, 'wt') };
}

/** The sum of several job types' raw counters. */
function sumCounters(all: Iterable<Readonly<Record<string, number>>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of all) for (const [k, v] of Object.entries(c)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** The bucket starts from `from` to `to` (both rounded down to the bucket), at most MAX_HISTORY_BUCKETS. */
export function bucketStarts(from: number, to: number, size: number): number[] {
  const first = from - (from % size);
  const last = to - (to % size);
  if (last < first) return [];
  const n = (last - first) / size + 1;
  if (n > MAX_HISTORY_BUCKETS) {
    throw new InvalidArgumentError('inspector.history', 'from', `a history read covers at most ${MAX_HISTORY_BUCKETS} buckets; this range holds ${n}`);
  }
  const out: number[] = [];
  for (let t = first; t <= last; t += size) out.push(t);
  return out;
}

/** Everything in a listing but its id and state. */
type Fields = Omit<ListedJob, 'id' | 'state'>;

/**
 * Opens an {@link Inspector} on the queues under `prefix`: queue state, paged job listings, one job's record, the
 * live workers and the history. Nothing it does scans keys or loads a whole queue (docs/operations.md, "Data").
 *
 * @example
 * const inspector = createInspector({ redis: process.env.REDIS_URL, prefix: 'jobcraft' });
 * for (const s of await inspector.allStats()) console.log(s.queue, s.waiting, s.latencyMs);
 * await inspector.close();
 */
export function createInspector(options: InspectorOptions = {}): Inspector {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (!PREFIX_PATTERN.test(prefix)) throw new InvalidArgumentError('createInspector', 'prefix', `prefix ${JSON.stringify(prefix)} may only hold letters, digits and _ - . : (1 to 64 characters)`);
  const ops = openOpsConnection(options.redis, VARIABLE_KEY_COMMANDS);
  const { conn } = ops;
  const redis = conn.redis;
  /** Runs a read; a failure other than an answer from Redis or a bad argument says Redis could not be reached. */
  const call =
    <A extends unknown[], T>(what: string, f: (...args: A) => Promise<T>) =>
    async (...args: A): Promise<T> => {
      try {
        return await f(...args);
      } catch (err) {
        throw ops.failure(what, err);
      }
    };
  const scripts = new Scripts(redis);
  const jobSet = options.jobs;
  const workerKeys = workerRegistryKeys(prefix);
  let registry: { at: number; entries: Map<string, QueueEntry> } | undefined;

  async function readRegistry(): Promise<Map<string, QueueEntry>> {
    const all = await redis.hgetall(queueRegistryKey(prefix));
    const entries = new Map<string, QueueEntry>();
    // The registry is anyone's text: a field that is no queue name (jobcraft never writes one) is left out, or one
    // such field would fail every stats read of the prefix.
    for (const q of Object.keys(all).sort()) if (QUEUE_NAME_PATTERN.test(q)) entries.set(q, { queue: q, throttled: parseQueueEntry(all[q]).throttled });
    registry = { at: Date.now(), entries };
    return entries;
  }

  async function entryOf(queue: string): Promise<QueueEntry> {
    const entries = registry !== undefined && Date.now() - registry.at < REGISTRY_CACHE_MS ? registry.entries : await readRegistry();
    return entries.get(queue) ?? { queue, throttled: [] };
  }

  function checkQueue(queue: string, what: string): QueueKeys {
    if (typeof queue !== 'string' || queue.length === 0 || queue.includes('{') || queue.includes('}')) {
      throw new InvalidArgumentError(what, 'queue', `not a queue name: ${JSON.stringify(queue)}`);
    }
    return queueKeys(prefix, queue);
  }

  async function statsOf(entry: QueueEntry): Promise<QueueStats> {
    const k = checkQueue(entry.queue, 'inspector.stats');
    const r = await scripts.stats(k, { types: entry.throttled.map((name) => ({ keys: { ready: typeKeys(k, name).ready } })) });
    return {
      queue: entry.queue,
      waiting: r.wait + r.prio + r.throttled,
      waitingPlain: r.wait,
      waitingPrioritized: r.prio,
      waitingThrottled: r.throttled,
      delayed: r.scheduled,
      retrying: r.errors,
      active: r.active,
      dead: r.dead,
      completed: r.done,
      paused: r.paused,
      latencyMs: r.oldest < 0 ? 0 : Math.max(0, r.now - r.oldest),
      oldestWaitingAt: r.oldest < 0 ? undefined : new Date(r.oldest),
      nextDueAt: r.nextDue < 0 ? undefined : new Date(r.nextDue),
      at: new Date(r.now),
    };
  }

  /** The records of `ids` (in a window of `state`), as listed jobs. */
  async function recordsOf(k: QueueKeys, state: ListState, ids: readonly string[], scores: readonly (number | undefined)[]): Promise<ListedJob[]> {
    if (ids.length === 0) return [];
    const out: ListedJob[] = [];
    // Stored times are anyone's text: a number a Date cannot hold (past ±8.64e15 ms) counts as no time.
    const date = (ms: number | undefined): Date | undefined => {
      const d = ms === undefined ? undefined : new Date(ms);
      return d === undefined || Number.isNaN(d.getTime()) ? undefined : d;
    };
    if (state === 'dead') {
      const [envs, infos] = await Promise.all([scripts.heads(k.dead, { ids, bytes: LISTED_HEAD_BYTES }), redis.hmget(k.deadInfo, ...ids)]);
      ids.forEach((id, i) => {
        const head = envelopeHead(envs[i]);
        const info = infos[i] === null || infos[i] === undefined ? undefined : parseDeadInfo(infos[i] as string);
        out.push({ id, state, name: head.name, enqueuedAt: date(head.t), attempts: info?.attempts ?? 0, at: date(scores[i]), lastError: info?.error, deadReason: info?.reason });
      });
      return out;
    }
    if (state === 'completed') {
      const recs = await redis.hmget(k.done, ...ids);
      ids.forEach((id, i) => {
        const [att, at] = (recs[i] ?? '').split('|');
        out.push({ id, state, name: undefined, enqueuedAt: undefined, attempts: Number(att ?? 0) || 0, at: date(at === undefined ? undefined : Number(at)), lastError: undefined });
      });
      return out;
    }
    const [envs, atts, errs] = await Promise.all([scripts.heads(k.jobs, { ids, bytes: LISTED_HEAD_BYTES }), redis.hmget(k.attempts, ...ids), redis.hmget(k.errors, ...ids)]);
    ids.forEach((id, i) => {
      const head = envelopeHead(envs[i]);
      const err = errs[i];
      // The scheduled set holds both: retrying jobs are those with an error record.
      const st: ListState = state === 'delayed' || state === 'retrying' ? (err === null || err === undefined ? 'delayed' : 'retrying') : state;
      const f: Fields = {
        name: head.name,
        enqueuedAt: date(head.t),
        attempts: Number(atts[i] ?? 0) || 0,
        at: date(scores[i]),
        lastError: err === null || err === undefined ? undefined : (parseStoredError(err) as StoredError | undefined),
      };
      out.push({ id, state: st, ...f });
    });
    return out;
  }

  /** One window of `n` entries of a source at `offset`: ids and their scores, and how many entries it read. */
  async function windowOf(
    k: QueueKeys,
    state: ListState,
    source: string,
    offset: number,
    n: number,
    entry: QueueEntry,
  ): Promise<{ ids: string[]; scores: (number | undefined)[]; consumed?: number }> {
    const end = offset + n - 1;
    const withScores = (flat: string[]): { ids: string[]; scores: number[] } => {
      const ids: string[] = [];
      const scores: number[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        ids.push(flat[i] as string);
        scores.push(Number(flat[i + 1]));
      }
      return { ids, scores };
    };
    switch (state) {
      case 'waiting': {
        if (source === 'w') {
          const ids = await redis.lrange(k.wait, offset, end);
          return { ids, scores: ids.map(() => undefined) };
        }
        const set = source === 'p' ? k.prio : typeKeys(k, source.slice(1)).ready;
        if (source !== 'p' && !entry.throttled.includes(source.slice(1))) return { ids: [], scores: [] };
        const ids = await redis.zrange(set, offset, end);
        return { ids, scores: ids.map(() => undefined) };
      }
      case 'delayed':
      case 'retrying':
        return withScores(await redis.zrange(k.scheduled, offset, end, 'WITHSCORES'));
      case 'active': {
        // The encoding guard (docs/redis-layout.md, `active`) is scored +inf: last, and left out.
        const w = withScores(await redis.zrange(k.active, offset, end, 'WITHSCORES'));
        const keep = w.ids.map((id, i) => (id.startsWith(ACTIVE_GUARD_PREFIX) ? -1 : i)).filter((i) => i >= 0);
        return { ids: keep.map((i) => w.ids[i] as string), scores: keep.map((i) => w.scores[i]), consumed: w.ids.length };
      }
      case 'dead':
        return withScores(await redis.zrevrange(k.deadOrder, offset, end, 'WITHSCORES'));
      case 'completed': {
        const ids = await redis.lrange(k.doneOrder, offset, end);
        return { ids, scores: ids.map(() => undefined) };
      }
    }
  }

  async function jobs(queue: string, o: ListOptions = {}): Promise<JobPage> {
    const k = checkQueue(queue, 'inspector.jobs');
    const state = o.state ?? 'waiting';
    if (!LIST_STATES_SET.has(state)) throw new InvalidArgumentError('inspector.jobs', 'state', `state must be one of ${[...LIST_STATES_SET].join(', ')}, got ${JSON.stringify(state)}`);
    const limit = o.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new InvalidArgumentError('inspector.jobs', 'limit', `limit must be an integer from 1 to ${MAX_PAGE}, got ${String(limit)}`);
    if (o.job !== undefined && state === 'completed') {
      throw new InvalidArgumentError('inspector.jobs', 'job', 'completed records keep no job name: list completed jobs without a job filter');
    }
    const entry = await entryOf(queue);
    const sources = state === 'waiting' ? ['w', 'p', ...entry.throttled.map((t) => `t${t}`)] : ['s'];
    let { source, offset } = o.cursor === undefined ? { source: sources[0] as string, offset: 0 } : decodeCursor(o.cursor);
    if (!sources.includes(source)) throw new InvalidArgumentError('inspector.jobs', 'cursor', `not a cursor of this listing: ${JSON.stringify(o.cursor)}`);
    const found: ListedJob[] = [];
    let room = limit;
    let next: Cursor | undefined;
    for (;;) {
      const w = await windowOf(k, state, source, offset, room, entry);
      const consumed = w.consumed ?? w.ids.length;
      for (const job of await recordsOf(k, state, w.ids, w.scores)) {
        if (job.state !== state) continue; // delayed vs retrying in the scheduled set
        if (o.job !== undefined && job.name !== o.job) continue;
        found.push(job);
      }
      room -= consumed;
      if (consumed > 0 && room === 0) {
        next = { source, offset: offset + consumed };
        break;
      }
      // This source is exhausted: go on with the next one (waiting jobs), or end.
      const i = sources.indexOf(source);
      if (i + 1 >= sources.length) break;
      source = sources[i + 1] as string;
      offset = 0;
    }
    return { jobs: found, cursor: next === undefined ? undefined : encodeCursor(next) };
  }

  async function workers(): Promise<readonly WorkerInfo[]> {
    const { entries } = await scripts.workers(workerKeys);
    const out: WorkerInfo[] = [];
    // An entry is anyone's text (Redis is shared): each field is taken only with the type heartbeat.ts writes, and
    // times only when they make a valid Date, so one odd entry neither breaks the listing nor its printing.
    const str = (v: unknown, fallback: string): string => (typeof v === 'string' ? v : fallback);
    const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
    const time = (v: unknown): Date => {
      const d = new Date(num(v));
      return Number.isNaN(d.getTime()) ? new Date(0) : d;
    };
    for (const e of entries) {
      if (e.json === null) continue;
      let v: Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(e.json);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) continue;
        v = parsed as Record<string, unknown>;
      } catch {
        continue; // an entry that is not JSON: not ours, left out
      }
      const running: RunningJob[] = (Array.isArray(v['running']) ? (v['running'] as unknown[]) : []).flatMap((r) => {
        if (typeof r !== 'object' || r === null) return [];
        const x = r as Record<string, unknown>;
        if (typeof x['id'] !== 'string' || typeof x['queue'] !== 'string') return [];
        return [{ id: x['id'], queue: x['queue'], name: str(x['name'], '?'), startedAt: time(x['startedAt']) }];
      });
      const queues = Array.isArray(v['queues']) ? (v['queues'] as unknown[]).filter((q): q is string => typeof q === 'string') : [];
      out.push({
        id: e.id,
        name: str(v['name'], e.id),
        host: str(v['host'], ''),
        pid: num(v['pid']),
        version: str(v['version'], 'unknown'),
        queues,
        concurrency: num(v['concurrency']),
        running,
        runningCount: typeof v['runningCount'] === 'number' ? num(v['runningCount']) : running.length,
        startedAt: time(v['startedAt']),
        lastBeatAt: time(v['lastBeatAt']),
        expiresAt: time(e.expiresAt),
      });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1));
  }

  async function job(id: string): Promise<JobDetails> {
    if (typeof id !== 'string' || id.length === 0) throw new InvalidArgumentError('inspector.job', 'id', `not a job id: ${JSON.stringify(id)}`);
    const hinted = queueOfGeneratedId(id);
    const queues = hinted !== undefined ? [hinted] : [...(await readRegistry()).keys()];
    const states = await Promise.all(queues.map((q) => scripts.get(queueKeys(prefix, q), { id })));
    const i = states.findIndex((s) => s.state !== 'unknown');
    const s = states[i];
    const info = jobInfoFrom(id, queues[i], s, (name) => (jobSet === undefined ? undefined : jobNamed(jobSet, name)?.attempts));
    let startedAt: Date | undefined;
    let workerId: string | undefined;
    if (info.state === 'active') {
      for (const w of await workers()) {
        const r = w.running.find((x) => x.id === id && x.queue === info.queue);
        if (r !== undefined) {
          startedAt = r.startedAt;
          workerId = w.id;
          break;
        }
      }
    }
    const diedAt = info.state === 'dead' && s !== undefined ? parseDeadInfo(s.extra).diedAt : undefined;
    const decoded = s === undefined || info.state === 'completed' || info.state === 'unknown' ? undefined : decodeEnvelope(s.raw);
    const envelope = decoded?.ok === true ? decoded.envelope : undefined;
    return {
      traceId: parseTraceContext(envelope?.tc)?.traceId,
      priority: envelope === undefined ? undefined : (envelope.r ?? 0),
      uniqueKey: typeof envelope?.u === 'string' ? envelope.u : undefined,
      payloadVersion: envelope === undefined ? undefined : (envelope.v ?? 1),
      ...info,
      timeline: {
        enqueuedAt: info.enqueuedAt,
        startedAt,
        finishedAt: info.finishedAt ?? (diedAt === undefined ? undefined : new Date(diedAt)),
        lastFailedAt: info.lastError === undefined ? undefined : new Date(info.lastError.at),
      },
      workerId,
    };
  }

  async function history(queue: string, o: HistoryOptions = {}): Promise<History> {
    const k = checkQueue(queue, 'inspector.history');
    const resolution = o.resolution ?? 'minute';
    if (resolution !== 'minute' && resolution !== 'hour') throw new InvalidArgumentError('inspector.history', 'resolution', `resolution must be "minute" or "hour", got ${JSON.stringify(resolution)}`);
    const size = resolution === 'minute' ? MINUTE_MS : HOUR_MS;
    const to = o.to === undefined ? Date.now() : Number(o.to);
    const from = o.from === undefined ? to - (resolution === 'minute' ? HOUR_MS : 24 * HOUR_MS) : Number(o.from);
    if (!Number.isFinite(from) || !Number.isFinite(to)) throw new InvalidArgumentError('inspector.history', 'from', 'from and to must be dates or ms since the epoch');
    const starts = bucketStarts(from, to, size);
    const tag = resolution === 'minute' ? 'm' : 'h';
    const pipe = redis.pipeline();
    for (const t of starts) pipe.hgetall(`${k.historyPrefix}${tag}:${t}`);
    const replies = starts.length === 0 ? [] : ((await pipe.exec()) ?? []);
    const points: HistoryPoint[] = starts.map((t, i) => {
      const [err, fields] = replies[i] ?? [null, {}];
      if (err) throw err;
      const byJobRaw = parseBucket((fields ?? {}) as Record<string, string>);
      if (o.job !== undefined) for (const name of [...byJobRaw.keys()]) if (name !== o.job) byJobRaw.delete(name);
      const byJob: Record<string, HistoryCounts> = {};
      for (const [name, c] of byJobRaw) byJob[name] = countsOf(c);
      return { at: new Date(t), ...countsOf(sumCounters(byJobRaw.values())), byJob };
    });
    return { queue, resolution, points };
  }

  return {
    prefix,
    queues: call('inspector.queues', async () => [...(await readRegistry()).values()]),
    stats: call('inspector.stats', async (queue: string) => statsOf(await entryOf(queue))),
    allStats: call('inspector.allStats', async () => Promise.all([...(await readRegistry()).values()].map(statsOf))),
    jobs: call('inspector.jobs', jobs),
    job: call('inspector.job', job),
    workers: call('inspector.workers', workers),
    history: call('inspector.history', history),
    close: () => release(conn),
  };
}
