/**
 * What the operations commands do (ops-commands.ts registers them and loads this module only when one runs): each
 * talks to Redis through the runtime's client (`jobcraft`), the same code the application runs.
 */
import { readFileSync } from 'node:fs';
import type {
  ActResult,
  Admin,
  AdminAction,
  BulkOptions as AdminBulkOptions,
  BulkOutcome as AdminBulkOutcome,
  createAdmin,
  DeadAction,
  DeadLetter,
  JobAction,
  JobInfo,
  LiveState,
  StoredError,
} from 'jobcraft';
import { bulkInterruptSignal, bulkProgressBar, checkSelection, confirm, parseSince, type Selection } from './ops-bulk.js';
import { checkJobFilter, checkJobName, checkQueue, parseJsonArgument, type CommonOptions, type Context } from './ops-context.js';
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
  // Every error kept (the earlier ones name their attempt; the last falls back to the attempts count).
  const errors = dead?.errors ?? info.errors;
  errors.forEach((err, i) => {
    const attempt = err.attempt ?? (i === errors.length - 1 ? info.attempts : '?');
    if (err.at > 0) t.push({ at: err.at, event: `attempt ${attempt} failed: ${err.name}: ${err.message}` });
  });
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

/**
 * Every error a job keeps (oldest first, the last one last), each with its attempt, time and stack: the job's
 * earlier errors (at most 4, their text cut shorter) and its last one.
 */
function printErrors(out: Printer, errors: readonly StoredError[]): void {
  if (errors.length === 0) return;
  const label = errors.length === 1 ? 'last error' : `errors (${errors.length}, oldest first; jobcraft keeps the last 5 of a job)`;
  out.line(out.c.dim(label));
  for (const e of errors) printError(out, e);
}

function printError(out: Printer, e: StoredError): void {
  const attempt = e.attempt === undefined ? '' : `attempt ${e.attempt}, `;
  out.line(`  ${out.c.red(escapeText(`${e.name}: ${e.message}`))}${out.c.dim(` (${attempt}${e.at > 0 ? when(e.at) : 'time unknown'})`)}`);
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
      errors: (dead?.errors ?? info.errors).map(errorJson),
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
    ...(info.deadReason === undefined ? [] : ([['reason', escapeText(info.deadReason)]] as [string, string][])),
    ...(runner === undefined ? [] : ([['worker', escapeText(runner.worker)]] as [string, string][])),
  ]);
  if (info.state !== 'completed') printPayload(out, info.payload);
  printErrors(out, dead?.errors ?? info.errors);
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

/** A dead letter as JSON; `errors` (every error it keeps, oldest first) only when asked, so listings stay small. */
function deadJson(d: DeadLetter, withErrors = false): unknown {
  return {
    id: d.id,
    queue: d.queue,
    name: d.name ?? null,
    reason: d.reason,
    attempts: d.attempts,
    diedAt: d.diedAt.toISOString(),
    payload: d.payload ?? null,
    error: errorJson(d.error),
    ...(withErrors ? { errors: d.errors.map(errorJson) } : {}),
    issues: d.issues ?? null,
    ...(d.name === undefined ? { raw: d.raw } : {}),
  };
}

/** The most dead letters `dead ls` reads per queue (as `jobs <queue>` per page). */
const MAX_DEAD_LIST = 1_000;

export async function deadList(ctx: Context, queue: string | undefined, o: { limit: number; offset: number; job?: string }): Promise<number> {
  if (!(o.limit >= 1 && o.limit <= MAX_DEAD_LIST)) throw new CliError(EXIT.usage, `--limit must be an integer from 1 to ${MAX_DEAD_LIST}, got ${o.limit}`);
  if (!(o.offset >= 0)) throw new CliError(EXIT.usage, `--offset must be an integer of 0 or more, got ${o.offset}`);
  if (o.job !== undefined) checkJobFilter(ctx, o.job);
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
    out.result({ total: counts.reduce((a, b) => a + b, 0), counts: Object.fromEntries(queues.map((q, i) => [q, counts[i]])), deadLetters: letters.map((d) => deadJson(d)) });
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
      letters.map((d) => [escapeText(d.id), d.queue, escapeText(d.name ?? '?'), escapeText(d.reason), d.attempts, when(d.diedAt), cut(escapeText(`${d.error.name}: ${d.error.message}`), 70)]),
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
    out.result(deadJson(letter, true));
    return EXIT.ok;
  }
  out.line(`${out.c.bold(`dead letter ${escapeText(id)}`)}  ${escapeText(letter.name ?? '(unreadable job)')} in queue ${letter.queue}`);
  out.fields([
    ['reason', out.c.red(escapeText(letter.reason))],
    ['attempts', String(letter.attempts)],
    ['died', when(letter.diedAt)],
  ]);
  if (letter.name === undefined) {
    out.line(out.c.dim('stored text'));
    out.line(`  ${escapeText(letter.raw.slice(0, 4_096))}${letter.raw.length > 4_096 ? '…' : ''}`);
  } else {
    printPayload(out, letter.payload);
  }
  printErrors(out, letter.errors);
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

/** `--page-size` (default 200, at most 10,000) and `--rate` (at least 1) of a paged, resumable command. */
export function pacing(o: Pick<BulkOptions, 'pageSize' | 'rate'>): { pageSize: number; rate: number | undefined } {
  const pageSize = integer(o.pageSize, '--page-size') ?? 200;
  const rate = integer(o.rate, '--rate');
  if (pageSize < 1 || pageSize > 10_000) throw new CliError(EXIT.usage, `--page-size must be 1 to 10000, got ${pageSize}`);
  if (rate !== undefined && rate < 1) throw new CliError(EXIT.usage, `--rate must be at least 1, got ${rate}`);
  return { pageSize, rate };
}

/** `createAdmin` from the runtime, or a clear error when the installed runtime has none. */
async function openAdmin(ctx: Context): Promise<Admin> {
  const runtime = (await import('jobcraft')) as { createAdmin?: typeof createAdmin };
  if (typeof runtime.createAdmin !== 'function') {
    throw new Error('this jobcraft runtime has no createAdmin (the write commands need jobcraft with the admin API): upgrade the jobcraft package');
  }
  // On the client's connection, which stays the client's: close() below leaves it open.
  return runtime.createAdmin({ redis: ctx.client.redis, prefix: ctx.prefix, jobs: ctx.jobs });
}

/** Runs `body` with an admin on the command's connection, then closes the admin. */
async function withAdmin<T>(ctx: Context, body: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = await openAdmin(ctx);
  try {
    return await body(admin);
  } finally {
    await admin.close();
  }
}

export type JobsVerb = JobAction;

/** Which live states each `jobs` action accepts with --state (the runtime's ACTION_STATES, here for the messages). */
const VERB_STATES: Record<JobsVerb, readonly LiveState[]> = {
  retry: ['retrying'],
  promote: ['delayed', 'retrying'],
  cancel: ['waiting', 'delayed', 'retrying'],
  delete: ['waiting', 'delayed', 'retrying'],
};

const VERB_PAST: Record<AdminAction, string> = {
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

function printOutcomes(ctx: Context, what: string, run: AdminBulkOutcome): number {
  const { out } = ctx;
  if (out.json) {
    out.result({ action: run.action, dryRun: run.dryRun, interrupted: run.interrupted, matched: run.matched, done: run.done, skipped: run.skipped, queues: run.queues });
  } else {
    for (const o of run.queues) {
      if (run.dryRun) {
        out.line(`queue ${o.queue}: would act on ${o.matched} ${what} (${o.scanned} scanned)${o.sample.length > 0 ? `: ${o.sample.map((id) => escapeText(id)).join(', ')}${o.matched > o.sample.length ? ', …' : ''}` : ''}`);
      } else {
        out.line(`queue ${o.queue}: ${VERB_PAST[run.action]} ${o.done} ${what}${o.skipped > 0 ? `, ${o.skipped} left as they were (already done, running or changed meanwhile)` : ''} (${o.scanned} scanned)`);
      }
    }
    if (run.interrupted) out.note('interrupted: rerun the same command to finish; jobs already done are not done again');
  }
  return run.interrupted ? EXIT.interrupted : EXIT.ok;
}

/** Runs a bulk action through the runtime, with the progress bar and Ctrl-C of the command line. */
async function runBulk(ctx: Context, label: string, o: BulkOptions, options: Omit<AdminBulkOptions, 'signal' | 'onProgress' | 'pageSize' | 'rate'>): Promise<AdminBulkOutcome> {
  const bar = bulkProgressBar(ctx.out, label);
  try {
    return await withAdmin(ctx, (admin) => admin.bulk({ ...options, ...pacing(o), signal: bulkInterruptSignal(ctx.out), onProgress: bar.onProgress }));
  } finally {
    bar.stop();
  }
}

/** What the command prints for one id of a `jobs` or `dead` action. */
function namedResult(action: AdminAction, r: ActResult): string {
  switch (r.result) {
    case 'not_found':
      return 'not found';
    case 'would':
      return `would be ${VERB_PAST[action]}`;
    case 'done':
      return VERB_PAST[action];
    case 'skipped':
      return r.reason === 'state' ? `skipped: it is ${r.state}` : r.reason === 'held' ? 'skipped: a live job holds its id or unique key' : 'skipped: changed meanwhile';
  }
}

/** `jobs <verb> [ids…] [--queue Q] [--all] [--job N] [--since T] [--state S] [--dry-run] [--yes]`. */
export async function jobsAction(ctx: Context, verb: JobsVerb, ids: readonly string[], o: BulkOptions): Promise<number> {
  const selection = selectionOf(o, ids);
  checkSelection(selection, `jobs ${verb}`);
  pacing(o);
  if (o.job !== undefined) checkJobFilter(ctx, o.job);
  if (o.state === 'dead' && verb === 'delete') return deadAction(ctx, 'delete', ids, o);
  const allowed = VERB_STATES[verb];
  let states = allowed;
  if (o.state !== undefined) {
    if (!(allowed as readonly string[]).includes(o.state)) {
      throw new CliError(EXIT.usage, `jobs ${verb} --state: one of ${allowed.join(', ')}${verb === 'delete' ? ', dead' : ''}, got ${JSON.stringify(o.state)}`);
    }
    states = [o.state as LiveState];
  }
  const queue = o.queue === undefined ? undefined : checkQueue(ctx, o.queue);
  if (ids.length > 0) {
    // Named jobs: each found by its id in --queue (else the queue a generated id names, else every queue), checked
    // for its state, then acted on. Given ids are unique per queue only: --queue says which queue's job is meant.
    const r = await withAdmin(ctx, (admin) => admin.act(verb, ids, { queue, states, dryRun: o.dryRun === true }));
    return printNamed(ctx, verb, r.results.map((x) => ({ id: x.id, result: namedResult(verb, x) })));
  }
  const queues = queue === undefined ? ctx.jobs.queues : [queue];
  if (o.dryRun !== true) {
    const { queueKeys } = await import('jobcraft');
    const sizes = await Promise.all(queues.map((q) => ctx.client.redis.hlen(queueKeys(ctx.prefix, q).jobs)));
    await confirm(
      `${verb} ${describeSelection(selection)} ${states.join('/')} jobs of ${queues.length === 1 ? `queue ${queues[0]}` : `${queues.length} queues`} (${sizes.reduce((a, b) => a + b, 0)} live jobs to look through)?`,
      o.yes === true,
    );
  }
  const run = await runBulk(ctx, verb, o, { action: verb, queue: o.queue, all: selection.all, job: selection.job, since: selection.since, states, dryRun: o.dryRun === true });
  return printOutcomes(ctx, 'job(s)', run);
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
  if (o.job !== undefined) checkJobFilter(ctx, o.job);
  const queue = o.queue === undefined ? undefined : checkQueue(ctx, o.queue);
  const action: DeadAction = verb === 'retry' ? 'dead-retry' : 'dead-delete';
  if (ids.length > 0) {
    const r = await withAdmin(ctx, (admin) => admin.act(action, ids, { queue, dryRun: o.dryRun === true }));
    return printNamed(ctx, action, r.results.map((x) => ({ id: x.id, result: namedResult(action, x) })));
  }
  const queues = queue === undefined ? ctx.jobs.queues : [queue];
  if (o.dryRun !== true) {
    const counts = await Promise.all(queues.map((q) => ctx.client.deadLetters.count(q)));
    await confirm(
      `${verb} ${describeSelection(selection)} dead letters of ${queues.length === 1 ? `queue ${queues[0]}` : `${queues.length} queues`} (${counts.reduce((a, b) => a + b, 0)} in all)?`,
      o.yes === true,
    );
  }
  const run = await runBulk(ctx, verb, o, { action, queue, all: selection.all, job: selection.job, since: selection.since, dryRun: o.dryRun === true });
  return printOutcomes(ctx, 'dead letter(s)', run);
}

export async function deadPurge(ctx: Context, queue: string, o: BulkOptions): Promise<number> {
  checkQueue(ctx, queue);
  if (o.dryRun === true) {
    const r = await withAdmin(ctx, (admin) => admin.purgeDead(queue, { dryRun: true }));
    if (ctx.out.json) ctx.out.result({ action: 'dead-purge', dryRun: true, queue, matched: r.matched, done: 0 });
    else ctx.out.line(`queue ${queue}: would delete ${r.matched} dead letter(s)`);
    return EXIT.ok;
  }
  const count = await ctx.client.deadLetters.count(queue);
  await confirm(`delete all ${count} dead letters of queue ${queue}?`, o.yes === true);
  const r = await withAdmin(ctx, (admin) => admin.purgeDead(queue));
  if (ctx.out.json) ctx.out.result({ action: 'dead-purge', dryRun: false, queue, matched: r.matched, done: r.done });
  else ctx.out.line(`queue ${queue}: deleted ${r.done} dead letter(s)`);
  return EXIT.ok;
}

// ---------------------------------------------------------------------------------------------------------------
// pause | resume, cron, enqueue

export async function pauseResume(ctx: Context, queue: string, pause: boolean): Promise<number> {
  checkQueue(ctx, queue);
  const r = await withAdmin(ctx, (admin) => (pause ? admin.pause(queue) : admin.resume(queue)));
  const { out } = ctx;
  if (out.json) out.result({ queue, paused: r.paused, changed: r.changed });
  else out.line(pause ? `queue ${queue} ${r.changed ? 'paused' : 'was already paused'}: workers lease none of its jobs until \`jobcraft resume ${queue}\`` : r.changed ? `queue ${queue} resumed` : `queue ${queue} was not paused`);
  return EXIT.ok;
}

export async function cronList(ctx: Context): Promise<number> {
  const [seconds] = await ctx.client.redis.time();
  const now = Number(seconds) * 1_000;
  const entries = await withAdmin(ctx, (admin) => admin.cron());
  const rows = entries.map((e) => ({ name: e.name, queue: e.queue, schedule: e.schedule, tz: e.tz, catchUp: e.catchUp, lastFiring: e.lastFiring?.getTime(), nextFiring: e.nextFiring?.getTime() }));
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
  const result = await withAdmin(ctx, (admin) => admin.triggerCron(name));
  if (ctx.out.json) ctx.out.result({ job: name, queue: result.queue, id: result.id, duplicate: result.duplicate });
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
    throw new CliError(EXIT.usage, `job ${name} cannot be enqueued from the manifest (its unique key is a function or, for producers pinned to an earlier payload version, made of the migrated payload; or its schema has no JSON Schema form): pass --schema <jobs.schema.ts>`);
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

