/**
 * What the operations commands do (ops-commands.ts registers them and loads this module only when one runs): each
 * talks to Redis through the runtime's client (`jobcraft`), the same code the application runs.
 */
import { readFileSync } from 'node:fs';
import type { DeadLetter, JobInfo, QueueKeys, StoredError } from 'jobcraft';
import { checkSelection, confirm, parseSince, runBulk, type BulkAction, type BulkOutcome, type PageResult, type Scanned, type Selection } from './ops-bulk.js';
import { checkJobName, checkQueue, parseJsonArgument, type CommonOptions, type Context } from './ops-context.js';
import { optionalCreateInspector } from './ops-inspect-types.js';
import { CliError, EXIT, escapeText, when, type Printer } from './ops-output.js';

// ---------------------------------------------------------------------------------------------------------------
// job <id>

interface TimelineEntry {
  readonly at: number;
  readonly event: string;
}

/** What is known of a job's life, oldest first: jobcraft keeps the enqueue time, the last error and the current state's time. */
function timelineOf(info: JobInfo, dead: DeadLetter | undefined): TimelineEntry[] {
  const t: TimelineEntry[] = [];
  if (info.enqueuedAt !== undefined) t.push({ at: info.enqueuedAt.getTime(), event: 'enqueued' });
  const err = dead?.error ?? info.lastError;
  if (err !== undefined && err.at > 0) t.push({ at: err.at, event: `attempt ${err.attempt ?? info.attempts} failed: ${err.name}: ${err.message}` });
  if (info.state === 'active' && info.leaseExpiresAt !== undefined) t.push({ at: info.leaseExpiresAt.getTime(), event: `running (attempt ${info.attempts}); lease expires` });
  if ((info.state === 'delayed' || info.state === 'retrying') && info.runAt !== undefined) {
    t.push({ at: info.runAt.getTime(), event: info.state === 'retrying' ? `attempt ${info.attempts + 1} due` : 'due' });
  }
  if (info.state === 'completed' && info.finishedAt !== undefined) t.push({ at: info.finishedAt.getTime(), event: `completed after ${info.attempts} attempt(s)` });
  if (info.state === 'dead' && dead !== undefined) t.push({ at: dead.diedAt.getTime(), event: `dead letter (${dead.reason})` });
  return t.sort((a, b) => a.at - b.at);
}

/**
 * The worker running an active job and when its attempt started, from the worker registry (its heartbeats), when
 * the runtime has one; undefined otherwise or when no live worker lists the job.
 */
async function runningOn(ctx: Context, id: string, queue: string): Promise<{ worker: string; workerId: string; startedAt: number } | undefined> {
  const createInspector = await optionalCreateInspector();
  if (createInspector === undefined) return undefined;
  const inspector = createInspector({ redis: ctx.client.redis, prefix: ctx.prefix });
  try {
    for (const w of await inspector.workers()) {
      const run = w.running.find((r) => r.id === id && r.queue === queue);
      if (run !== undefined) return { worker: `${w.name} (${w.host}, pid ${w.pid})`, workerId: w.id, startedAt: run.startedAt.getTime() };
    }
    return undefined;
  } finally {
    await inspector.close();
  }
}

/** Text cut to `max` characters, with an ellipsis. */
function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function errorJson(e: StoredError | undefined): unknown {
  return e === undefined ? null : { name: e.name, message: e.message, stack: e.stack ?? null, attempt: e.attempt ?? null, at: e.at > 0 ? new Date(e.at).toISOString() : null };
}

function printError(out: Printer, label: string, e: StoredError): void {
  out.line(`${out.c.dim(label)}`);
  out.line(`  ${out.c.red(escapeText(`${e.name}: ${e.message}`))}${e.attempt === undefined ? '' : out.c.dim(` (attempt ${e.attempt}, ${when(e.at)})`)}`);
  if (e.stack !== undefined && e.stack !== '') {
    const lines = e.stack.split('\n');
    // A stack usually starts with the "Name: message" line just printed.
    if (lines[0] === `${e.name}: ${e.message}`) lines.shift();
    for (const line of lines) out.line(`  ${out.c.dim(escapeText(line))}`);
  }
}

function printPayload(out: Printer, payload: unknown): void {
  out.line(out.c.dim('payload'));
  const text = payload === undefined ? '(unreadable)' : escapeText(JSON.stringify(payload, null, 2) ?? 'undefined', true);
  for (const line of text.split('\n')) out.line(`  ${line}`);
}

export async function showJob(ctx: Context, id: string): Promise<number> {
  const info = await ctx.client.getJob(id);
  if (info.state === 'unknown') throw new CliError(EXIT.notFound, `no job ${JSON.stringify(id)} (not live, not dead, not among the recently completed)`);
  const dead = info.state === 'dead' && info.queue !== undefined ? await ctx.client.deadLetters.queue(info.queue).get(id) : undefined;
  const runner = info.state === 'active' && info.queue !== undefined ? await runningOn(ctx, id, info.queue) : undefined;
  const timeline = timelineOf(info, dead);
  if (runner !== undefined) timeline.push({ at: runner.startedAt, event: `attempt ${info.attempts} started on worker ${runner.worker}` });
  timeline.sort((a, b) => a.at - b.at);
  const { out } = ctx;
  if (out.json) {
    out.result({
      id: info.id,
      queue: info.queue,
      name: info.name ?? null,
      state: info.state,
      attempts: info.attempts,
      maxAttempts: info.maxAttempts ?? null,
      payload: info.payload ?? null,
      enqueuedAt: info.enqueuedAt?.toISOString() ?? null,
      runAt: info.runAt?.toISOString() ?? null,
      leaseExpiresAt: info.leaseExpiresAt?.toISOString() ?? null,
      finishedAt: info.finishedAt?.toISOString() ?? null,
      deadReason: info.deadReason ?? null,
      diedAt: dead?.diedAt.toISOString() ?? null,
      lastError: errorJson(dead?.error ?? info.lastError),
      issues: dead?.issues ?? null,
      worker: runner === undefined ? null : { id: runner.workerId, name: runner.worker, startedAt: new Date(runner.startedAt).toISOString() },
      timeline: timeline.map((e) => ({ at: new Date(e.at).toISOString(), event: e.event })),
    });
    return EXIT.ok;
  }
  out.line(`${out.c.bold(`job ${escapeText(id)}`)}  ${escapeText(info.name ?? '(name unknown)')} in queue ${escapeText(info.queue ?? '-')}`);
  out.fields([
    ['state', stateColor(out, info.state)],
    ['attempts', `${info.attempts}${info.maxAttempts === undefined ? '' : ` of ${info.maxAttempts}`}`],
    ...(info.deadReason === undefined ? [] : ([['reason', info.deadReason]] as [string, string][])),
    ...(runner === undefined ? [] : ([['worker', escapeText(runner.worker)]] as [string, string][])),
  ]);
  if (info.state !== 'completed') printPayload(out, info.payload);
  const err = dead?.error ?? info.lastError;
  if (err !== undefined) printError(out, 'last error (jobcraft keeps the last one)', err);
  if (dead?.issues !== undefined && dead.issues.length > 0) {
    out.line(out.c.dim('issues'));
    for (const issue of dead.issues) out.line(`  ${escapeText(issue.path.join('.') || '(payload)')}: ${escapeText(issue.message)}`);
  }
  out.line(out.c.dim('timeline'));
  for (const e of timeline) out.line(`  ${new Date(e.at).toISOString()}  ${escapeText(e.event)}`);
  return EXIT.ok;
}

function stateColor(out: Printer, state: string): string {
  const c = out.c;
  return state === 'dead' ? c.red(state) : state === 'retrying' ? c.yellow(state) : state === 'active' ? c.cyan(state) : state === 'completed' ? c.green(state) : state;
}

// ---------------------------------------------------------------------------------------------------------------
// dead ls | show

function deadJson(d: DeadLetter): unknown {
  return {
    id: d.id,
    queue: d.queue,
    name: d.name ?? null,
    reason: d.reason,
    attempts: d.attempts,
    diedAt: d.diedAt.toISOString(),
    payload: d.payload ?? null,
    error: errorJson(d.error),
    issues: d.issues ?? null,
    ...(d.name === undefined ? { raw: d.raw } : {}),
  };
}

export async function deadList(ctx: Context, queue: string | undefined, o: { limit: number; offset: number; job?: string }): Promise<number> {
  const queues = queue === undefined ? ctx.jobs.queues : [checkQueue(ctx, queue)];
  const lists = await Promise.all(queues.map((q) => ctx.client.deadLetters.list(q, { offset: o.offset, limit: o.limit })));
  const counts = await Promise.all(queues.map((q) => ctx.client.deadLetters.count(q)));
  const letters = lists
    .flat()
    .filter((d) => o.job === undefined || d.name === o.job)
    .sort((a, b) => b.diedAt.getTime() - a.diedAt.getTime())
    .slice(0, o.limit);
  const { out } = ctx;
  if (out.json) {
    out.result({ total: counts.reduce((a, b) => a + b, 0), counts: Object.fromEntries(queues.map((q, i) => [q, counts[i]])), deadLetters: letters.map(deadJson) });
    return EXIT.ok;
  }
  const total = counts.reduce((a, b) => a + b, 0);
  if (letters.length === 0) {
    out.line(`no dead letters${queue === undefined ? '' : ` in queue ${queue}`}${o.job === undefined ? '' : ` of job ${o.job}`}${o.offset > 0 ? ` from offset ${o.offset}` : ''} (${total} in all)`);
    return EXIT.ok;
  }
  out.line(
    out.table(
      ['ID', 'QUEUE', 'JOB', 'REASON', 'ATTEMPTS', 'DIED', 'ERROR'],
      letters.map((d) => [escapeText(d.id), d.queue, escapeText(d.name ?? '?'), d.reason, d.attempts, when(d.diedAt), cut(escapeText(`${d.error.name}: ${d.error.message}`), 70)]),
    ),
  );
  out.line(out.c.dim(`${letters.length} shown, ${total} dead letter(s) in ${queues.length === 1 ? `queue ${queues[0]}` : `${queues.length} queues`}`));
  return EXIT.ok;
}

export async function deadShow(ctx: Context, id: string): Promise<number> {
  const info = await ctx.client.getJob(id);
  const letter = info.state === 'dead' && info.queue !== undefined ? await ctx.client.deadLetters.queue(info.queue).get(id) : undefined;
  if (letter === undefined) throw new CliError(EXIT.notFound, `no dead letter ${JSON.stringify(id)}${info.state === 'unknown' ? '' : ` (the job is ${info.state})`}`);
  const { out } = ctx;
  if (out.json) {
    out.result(deadJson(letter));
    return EXIT.ok;
  }
  out.line(`${out.c.bold(`dead letter ${escapeText(id)}`)}  ${escapeText(letter.name ?? '(unreadable job)')} in queue ${letter.queue}`);
  out.fields([
    ['reason', out.c.red(letter.reason)],
    ['attempts', String(letter.attempts)],
    ['died', when(letter.diedAt)],
  ]);
  if (letter.name === undefined) {
    out.line(out.c.dim('stored text'));
    out.line(`  ${escapeText(letter.raw.slice(0, 4_096))}${letter.raw.length > 4_096 ? '…' : ''}`);
  } else {
    printPayload(out, letter.payload);
  }
  printError(out, 'error', letter.error);
  if (letter.issues !== undefined && letter.issues.length > 0) {
    out.line(out.c.dim('issues'));
    for (const issue of letter.issues) out.line(`  ${escapeText(issue.path.join('.') || '(payload)')}: ${escapeText(issue.message)}`);
  }
  return EXIT.ok;
}

// ---------------------------------------------------------------------------------------------------------------
// bulk actions

export interface BulkOptions extends CommonOptions {
  readonly queue?: string;
  readonly all?: boolean;
  readonly job?: string;
  readonly since?: string;
  readonly state?: string;
  readonly dryRun?: boolean;
  readonly yes?: boolean;
  readonly pageSize?: string;
  readonly rate?: string;
}

function pacing(o: BulkOptions): { pageSize: number; rate: number | undefined } {
  const pageSize = integer(o.pageSize, '--page-size') ?? 200;
  const rate = integer(o.rate, '--rate');
  if (pageSize < 1 || pageSize > 10_000) throw new CliError(EXIT.usage, `--page-size must be 1 to 10000, got ${pageSize}`);
  if (rate !== undefined && rate < 1) throw new CliError(EXIT.usage, `--rate must be at least 1, got ${rate}`);
  return { pageSize, rate };
}

type LiveState = 'waiting' | 'delayed' | 'retrying' | 'active';
const LIVE_STATES: readonly LiveState[] = ['waiting', 'delayed', 'retrying', 'active'];

/** The state of each live job of a page: in `active`, in `scheduled` with or without a stored error, else waiting. */
async function liveStates(ctx: Context, k: QueueKeys, ids: readonly string[]): Promise<Map<string, LiveState | undefined>> {
  const replies = await ctx.client.redis.pipeline().zmscore(k.active, ...ids).zmscore(k.scheduled, ...ids).hmget(k.errors, ...ids).hmget(k.jobs, ...ids).exec();
  const [active, scheduled, errors, live] = (replies ?? []).map(([err, value]) => {
    if (err) throw err;
    return value as (string | null)[];
  }) as [(string | null)[], (string | null)[], (string | null)[], (string | null)[]];
  return new Map(
    ids.map((id, i) => {
      const state: LiveState | undefined =
        live[i] === null ? undefined : active[i] !== null ? 'active' : scheduled[i] !== null ? (errors[i] !== null ? 'retrying' : 'delayed') : 'waiting';
      return [id, state];
    }),
  );
}

/** Makes scheduled jobs due now (never later than they were) and wakes a worker. Idempotent. */
async function promote(ctx: Context, k: QueueKeys, ids: readonly string[]): Promise<PageResult> {
  const [seconds, micros] = await ctx.client.redis.time();
  const now = Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
  const args: (string | number)[] = [];
  for (const id of ids) args.push(now, id);
  // XX: only jobs still scheduled; LT: never later than their due time; CH: count those moved.
  const changed = Number(await ctx.client.redis.call('ZADD', k.scheduled, 'XX', 'LT', 'CH', ...args.map(String)));
  if ((await ctx.client.redis.exists(k.paused)) === 0) {
    // One wake-up token at most (docs/redis-layout.md): the woken worker's fetch promotes the due jobs.
    await ctx.client.redis.multi().lpush(k.notify, '1').ltrim(k.notify, 0, 0).exec();
  }
  return { done: changed, skipped: ids.length - changed };
}

export type JobsVerb = 'retry' | 'delete' | 'promote' | 'cancel';

/** Which live states each `jobs` action applies to by default, and which it accepts with --state. */
const VERB_STATES: Record<JobsVerb, readonly LiveState[]> = {
  retry: ['retrying'],
  promote: ['delayed', 'retrying'],
  cancel: ['waiting', 'delayed', 'retrying'],
  delete: ['waiting', 'delayed', 'retrying'],
};

const VERB_PAST: Record<JobsVerb | 'dead-retry' | 'dead-delete', string> = {
  retry: 'retried now',
  promote: 'promoted',
  cancel: 'cancelled',
  delete: 'deleted',
  'dead-retry': 'retried',
  'dead-delete': 'deleted',
};

function selectionOf(o: BulkOptions, ids: readonly string[]): Selection {
  return { ids, all: o.all === true, job: o.job, since: o.since === undefined ? undefined : parseSince(o.since) };
}

function describeSelection(s: Selection): string {
  const parts: string[] = [];
  if (s.job !== undefined) parts.push(`of job ${s.job}`);
  if (s.since !== undefined) parts.push(`since ${new Date(s.since).toISOString()}`);
  return parts.length === 0 ? 'all' : parts.join(', ');
}

function printOutcomes(ctx: Context, verb: keyof typeof VERB_PAST, what: string, outcomes: readonly BulkOutcome[], dryRun: boolean): number {
  const interrupted = outcomes.some((o) => o.interrupted);
  const sum = (f: (o: BulkOutcome) => number): number => outcomes.reduce((a, o) => a + f(o), 0);
  const { out } = ctx;
  if (out.json) {
    out.result({ action: verb, dryRun, interrupted, matched: sum((o) => o.matched), done: sum((o) => o.done), skipped: sum((o) => o.skipped), queues: outcomes });
  } else {
    for (const o of outcomes) {
      if (dryRun) {
        out.line(`queue ${o.queue}: would act on ${o.matched} ${what} (${o.scanned} scanned)${o.sample.length > 0 ? `: ${o.sample.map((id) => escapeText(id)).join(', ')}${o.matched > o.sample.length ? ', …' : ''}` : ''}`);
      } else {
        out.line(`queue ${o.queue}: ${VERB_PAST[verb]} ${o.done} ${what}${o.skipped > 0 ? `, ${o.skipped} left as they were (already done, running or changed meanwhile)` : ''} (${o.scanned} scanned)`);
      }
    }
    if (interrupted) out.note('interrupted: rerun the same command to finish; jobs already done are not done again');
  }
  return interrupted ? EXIT.interrupted : EXIT.ok;
}

/** `jobs <verb> [ids…] [--queue Q] [--all] [--job N] [--since T] [--state S] [--dry-run] [--yes]`. */
export async function jobsAction(ctx: Context, verb: JobsVerb, ids: readonly string[], o: BulkOptions): Promise<number> {
  const selection = selectionOf(o, ids);
  checkSelection(selection, `jobs ${verb}`);
  pacing(o);
  if (o.job !== undefined) checkJobName(ctx, o.job);
  if (o.state === 'dead' && verb === 'delete') return deadAction(ctx, 'delete', ids, o);
  const allowed = VERB_STATES[verb];
  let states = allowed;
  if (o.state !== undefined) {
    if (!(allowed as readonly string[]).includes(o.state)) {
      throw new CliError(EXIT.usage, `jobs ${verb} --state: one of ${allowed.join(', ')}${verb === 'delete' ? ', dead' : ''}, got ${JSON.stringify(o.state)}`);
    }
    states = [o.state as LiveState];
  }
  const { queueKeys } = await import('jobcraft');
  const act = async (k: QueueKeys, page: readonly string[]): Promise<PageResult> => {
    if (verb === 'cancel' || verb === 'delete') {
      const results = await Promise.all(page.map((id) => ctx.client.cancel(id)));
      const done = results.filter((r) => r === 'cancelled').length;
      return { done, skipped: page.length - done };
    }
    return promote(ctx, k, page);
  };
  if (ids.length > 0) {
    // Named jobs: each found by its id (a generated id names its queue), checked for its state, then acted on.
    const results: { id: string; result: string }[] = [];
    for (const id of ids) {
      const info = await ctx.client.getJob(id);
      if (info.state === 'unknown' || info.queue === undefined) {
        results.push({ id, result: 'not found' });
      } else if (!(states as readonly string[]).includes(info.state)) {
        results.push({ id, result: `skipped: it is ${info.state}` });
      } else if (o.dryRun === true) {
        results.push({ id, result: `would be ${VERB_PAST[verb]}` });
      } else {
        const r = await act(queueKeys(ctx.prefix, info.queue), [id]);
        results.push({ id, result: r.done === 1 ? VERB_PAST[verb] : 'skipped: changed meanwhile' });
      }
    }
    return printNamed(ctx, verb, results);
  }
  const queues = o.queue === undefined ? ctx.jobs.queues : [checkQueue(ctx, o.queue)];
  if (o.dryRun !== true) {
    const sizes = await Promise.all(queues.map((q) => ctx.client.redis.hlen(queueKeys(ctx.prefix, q).jobs)));
    await confirm(
      `${verb} ${describeSelection(selection)} ${states.join('/')} jobs of ${queues.length === 1 ? `queue ${queues[0]}` : `${queues.length} queues`} (${sizes.reduce((a, b) => a + b, 0)} live jobs to look through)?`,
      o.yes === true,
      ctx.out,
    );
  }
  const outcomes: BulkOutcome[] = [];
  for (const queue of queues) {
    const k = queueKeys(ctx.prefix, queue);
    const action: BulkAction = {
      queue,
      hash: k.jobs,
      narrow: async (page: readonly Scanned[]) => {
        const byId = await liveStates(ctx, k, page.map((j) => j.id));
        return page.filter((j) => (states as readonly (string | undefined)[]).includes(byId.get(j.id))).map((j) => j.id);
      },
      act: (page) => act(k, page),
    };
    const outcome = await runBulk(ctx.client.redis, action, selection, { dryRun: o.dryRun === true, out: ctx.out, label: `${verb} ${queue}`, sinceOnEnvelope: true, ...pacing(o) });
    outcomes.push(outcome);
    if (outcome.interrupted) break;
  }
  return printOutcomes(ctx, verb, 'job(s)', outcomes, o.dryRun === true);
}

function printNamed(ctx: Context, verb: string, results: readonly { id: string; result: string }[]): number {
  const { out } = ctx;
  if (out.json) out.result({ action: verb, results });
  else for (const r of results) out.line(`${escapeText(r.id)}: ${r.result}`);
  return results.some((r) => r.result === 'not found') ? EXIT.notFound : EXIT.ok;
}

/** `dead retry|delete [ids…] [--queue Q] [--all] [--job N] [--since T] [--dry-run] [--yes]`. */
export async function deadAction(ctx: Context, verb: 'retry' | 'delete', ids: readonly string[], o: BulkOptions): Promise<number> {
  const selection = selectionOf(o, ids);
  checkSelection(selection, `dead ${verb}`);
  pacing(o);
  if (o.job !== undefined) checkJobName(ctx, o.job);
  const queue = o.queue === undefined ? undefined : checkQueue(ctx, o.queue);
  if (ids.length > 0) {
    const results: { id: string; result: string }[] = [];
    for (const id of ids) {
      if (o.dryRun === true) {
        const info = await ctx.client.getJob(id);
        results.push({ id, result: info.state === 'dead' ? `would be ${verb === 'retry' ? 'retried' : 'deleted'}` : 'not found' });
        continue;
      }
      const ok = verb === 'retry' ? await ctx.client.deadLetters.retry(id, queue) : await ctx.client.deadLetters.delete(id, queue);
      let result = ok ? (verb === 'retry' ? 'retried' : 'deleted') : 'not found';
      if (!ok && verb === 'retry' && (await ctx.client.getJob(id)).state === 'dead') result = 'skipped: a live job holds its id or unique key';
      results.push({ id, result });
    }
    return printNamed(ctx, `dead-${verb}`, results);
  }
  const { queueKeys } = await import('jobcraft');
  const queues = queue === undefined ? ctx.jobs.queues : [queue];
  if (o.dryRun !== true) {
    const counts = await Promise.all(queues.map((q) => ctx.client.deadLetters.count(q)));
    await confirm(
      `${verb} ${describeSelection(selection)} dead letters of ${queues.length === 1 ? `queue ${queues[0]}` : `${queues.length} queues`} (${counts.reduce((a, b) => a + b, 0)} in all)?`,
      o.yes === true,
      ctx.out,
    );
  }
  const outcomes: BulkOutcome[] = [];
  for (const q of queues) {
    const k = queueKeys(ctx.prefix, q);
    const dlq = ctx.client.deadLetters.queue(q);
    const since = selection.since;
    const action: BulkAction = {
      queue: q,
      hash: k.dead,
      narrow:
        since === undefined
          ? undefined
          : async (page) => {
              const scores = (await ctx.client.redis.zmscore(k.deadOrder, ...page.map((j) => j.id))) as (string | null)[];
              return page.filter((_, i) => scores[i] !== null && Number(scores[i]) >= since).map((j) => j.id);
            },
      act: async (page) => {
        if (verb === 'retry') {
          const moved = await dlq.retry(page);
          return { done: moved.length, skipped: page.length - moved.length };
        }
        const deleted = await dlq.delete(page);
        return { done: deleted, skipped: page.length - deleted };
      },
    };
    const outcome = await runBulk(ctx.client.redis, action, selection, { dryRun: o.dryRun === true, out: ctx.out, label: `${verb} ${q}`, sinceOnEnvelope: false, ...pacing(o) });
    outcomes.push(outcome);
    if (outcome.interrupted) break;
  }
  return printOutcomes(ctx, verb === 'retry' ? 'dead-retry' : 'dead-delete', 'dead letter(s)', outcomes, o.dryRun === true);
}

export async function deadPurge(ctx: Context, queue: string, o: BulkOptions): Promise<number> {
  checkQueue(ctx, queue);
  const count = await ctx.client.deadLetters.count(queue);
  if (o.dryRun === true) {
    if (ctx.out.json) ctx.out.result({ action: 'dead-purge', dryRun: true, queue, matched: count, done: 0 });
    else ctx.out.line(`queue ${queue}: would delete ${count} dead letter(s)`);
    return EXIT.ok;
  }
  await confirm(`delete all ${count} dead letters of queue ${queue}?`, o.yes === true, ctx.out);
  const purged = await ctx.client.deadLetters.purge(queue);
  if (ctx.out.json) ctx.out.result({ action: 'dead-purge', dryRun: false, queue, matched: purged, done: purged });
  else ctx.out.line(`queue ${queue}: deleted ${purged} dead letter(s)`);
  return EXIT.ok;
}

// ---------------------------------------------------------------------------------------------------------------
// pause | resume, cron, enqueue

export async function pauseResume(ctx: Context, queue: string, pause: boolean): Promise<number> {
  checkQueue(ctx, queue);
  const was = await ctx.client.isPaused(queue);
  if (pause) await ctx.client.pause(queue);
  else await ctx.client.resume(queue);
  const { out } = ctx;
  if (out.json) out.result({ queue, paused: pause, changed: was !== pause });
  else out.line(pause ? `queue ${queue} ${was ? 'was already paused' : 'paused'}: workers lease none of its jobs until \`jobcraft resume ${queue}\`` : was ? `queue ${queue} resumed` : `queue ${queue} was not paused`);
  return EXIT.ok;
}

export async function cronList(ctx: Context): Promise<number> {
  const { queueKeys, nextFiring } = await import('jobcraft');
  const [seconds] = await ctx.client.redis.time();
  const now = Number(seconds) * 1_000;
  const cronJobs = [...ctx.jobs.jobs.values()].filter((j) => j.cron !== undefined);
  const lasts = await Promise.all(cronJobs.map((j) => ctx.client.redis.hget(queueKeys(ctx.prefix, j.queue).cron, j.name)));
  const rows = cronJobs.map((j, i) => {
    const last = lasts[i] === null || lasts[i] === undefined ? undefined : Number(lasts[i]);
    return { name: j.name, queue: j.queue, schedule: j.cron?.pattern ?? '', tz: j.cron?.tz ?? 'UTC', catchUp: j.cron?.catchUp ?? 'last', lastFiring: last, nextFiring: nextFiring(j, now) };
  });
  const { out } = ctx;
  if (out.json) {
    out.result({
      cron: rows.map((r) => ({ ...r, lastFiring: r.lastFiring === undefined ? null : new Date(r.lastFiring).toISOString(), nextFiring: r.nextFiring === undefined ? null : new Date(r.nextFiring).toISOString() })),
    });
    return EXIT.ok;
  }
  if (rows.length === 0) {
    out.line('no cron jobs in the job set');
    return EXIT.ok;
  }
  out.line(out.table(['JOB', 'QUEUE', 'SCHEDULE', 'TZ', 'CATCH-UP', 'LAST FIRING', 'NEXT FIRING'], rows.map((r) => [r.name, r.queue, r.schedule, r.tz, r.catchUp, r.lastFiring === undefined ? 'never' : when(r.lastFiring, now), when(r.nextFiring, now)])));
  return EXIT.ok;
}

export async function cronTrigger(ctx: Context, name: string): Promise<number> {
  const job = ctx.jobs.jobs.get(checkJobName(ctx, name));
  if (job?.cron === undefined) throw new CliError(EXIT.usage, `job ${name} has no cron schedule: use \`jobcraft enqueue ${name} --data '<json>'\``);
  const result = await ctx.client.enqueue(name, JSON.parse(job.cron.payloadJson) as never);
  if (ctx.out.json) ctx.out.result({ job: name, queue: job.queue, id: result.id, duplicate: result.duplicate });
  else ctx.out.line(`enqueued ${name} now (outside its schedule, which is unchanged): ${escapeText(result.id)}${result.duplicate ? ' (duplicate: a job with its unique key exists)' : ''}`);
  return EXIT.ok;
}

export interface EnqueueCommandOptions extends CommonOptions {
  readonly data?: string;
  readonly file?: string;
  readonly delay?: string;
  readonly priority?: string;
  readonly attempts?: string;
  readonly jobId?: string;
}

export function integer(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text)) throw new CliError(EXIT.usage, `${option} must be an integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

export async function enqueueJob(ctx: Context, name: string, o: EnqueueCommandOptions): Promise<number> {
  checkJobName(ctx, name);
  if ((o.data === undefined) === (o.file === undefined)) throw new CliError(EXIT.usage, 'give the payload with either --data <json> or --file <file>');
  if (ctx.loaded.needsSchema.has(name)) {
    throw new CliError(EXIT.usage, `job ${name} cannot be enqueued from the manifest (its unique key is a function, or its schema has no JSON Schema form): pass --schema <jobs.schema.ts>`);
  }
  let text: string;
  if (o.file !== undefined) {
    try {
      text = readFileSync(o.file === '-' ? 0 : o.file, 'utf8');
    } catch (err) {
      throw new CliError(EXIT.usage, `cannot read ${o.file}: ${(err as Error).message}`);
    }
  } else {
    text = o.data as string;
  }
  const payload = parseJsonArgument(text, o.file === undefined ? '--data' : o.file);
  const { JobValidationError, InvalidArgumentError, formatPath } = await import('jobcraft');
  try {
    const result = await ctx.client.enqueue(name, payload as never, {
      delay: o.delay as never,
      priority: integer(o.priority, '--priority'),
      attempts: integer(o.attempts, '--attempts'),
      jobId: o.jobId,
    });
    const job = ctx.jobs.jobs.get(name);
    if (ctx.out.json) ctx.out.result({ job: name, queue: job?.queue, id: result.id, duplicate: result.duplicate });
    else ctx.out.line(result.duplicate ? `not enqueued: ${escapeText(result.id)} already exists (duplicate)` : `enqueued ${name} in queue ${job?.queue}: ${escapeText(result.id)}`);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof JobValidationError) {
      const issues = err.issues.map((i) => ({ path: i.path, at: formatPath(i.path), code: i.code, message: i.message }));
      if (ctx.out.json) ctx.out.result({ job: name, error: 'invalid_payload', issues });
      else {
        ctx.out.note(`${ctx.out.c.red('error:')} the payload fails the schema of job ${name} (checked against the ${ctx.loaded.kind === 'schema' ? 'schema file' : 'manifest'}; nothing was written):`);
        for (const i of issues) ctx.out.note(`  ${escapeText(i.at)}: ${escapeText(i.message)}`);
      }
      return EXIT.invalid;
    }
    if (err instanceof InvalidArgumentError) throw new CliError(EXIT.usage, err.message);
    throw err;
  }
}

