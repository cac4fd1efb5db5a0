/**
 * POST /actions: every write, through the runtime's admin API (`createAdmin`). Named ids go to `admin.act`; "every
 * matching job" to `admin.bulk` (HSCAN pages of {@link BULK_PAGE_SIZE}, idempotent, so a run stopped by the time
 * budget is finished by submitting again), always after a dry-run count the user confirms. The answer is a page
 * saying what happened, with a link back.
 */
import { ACTION_STATES, type ActOutcome, type BulkOutcome, type LiveState, type PauseOutcome, type PurgeOutcome, type TriggerOutcome } from 'jobcraft';
import { BadRequest, type Ctx } from './context.js';
import { ACTION_LABELS, hiddenFields, html, href, jobHref, layout, type Html, type Page } from './html.js';
import { DASHBOARD_ACTIONS, type ActionTarget, type DashboardAction } from './options.js';

/** Entries per HSCAN page of a bulk action. */
export const BULK_PAGE_SIZE = 200;
/** A bulk action (or its dry-run count) stops after this long; submitting it again goes on where it stopped. */
export const BULK_TIME_BUDGET_MS = 20_000;
/** At most this many ids are taken from one form. */
export const MAX_IDS = 1_000;

/** An action's request, parsed from the form. */
export interface ActionForm {
  readonly action: DashboardAction;
  readonly queue: string | undefined;
  readonly ids: readonly string[];
  readonly all: boolean;
  readonly job: string | undefined;
  readonly state: string | undefined;
  readonly dryRun: boolean;
  /** Where to go back to (a path relative to the dashboard's root). */
  readonly back: string;
}

/** A refused action request (400). */
export class BadAction extends BadRequest {}

function one(v: unknown): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' && s !== '' ? s : undefined;
}

/** A `return` field: a path relative to the root, without a scheme, host or backslash; else the overview. */
function safeBack(v: string | undefined): string {
  if (v === undefined || v.length > 2_000 || /[\\\s]/.test(v) || v.startsWith('/') || /^[a-z][a-z0-9+.-]*:/i.test(v)) return '';
  return v;
}

/**
 * The `dry` field: `1` counts without acting; absent (or `0`) acts. Anything else is refused: taking `dry=true` from a
 * script for "act" would run for real what was meant as a count.
 */
function dryRunOf(v: string | undefined): boolean {
  if (v === undefined || v === '0') return false;
  if (v === '1') return true;
  throw new BadAction(`dry must be 1 (count only) or 0 (act), or left out: ${JSON.stringify(v)}`);
}

/** Parses the form of a POST (fields: action, queue, id…, select=all, job, state, dry, return). */
export function parseActionForm(body: Record<string, unknown>): ActionForm {
  const action = one(body['action']);
  if (action === undefined || !(DASHBOARD_ACTIONS as readonly string[]).includes(action)) throw new BadAction(`unknown action ${JSON.stringify(action ?? '')}`);
  const rawIds = body['id'];
  const ids = (Array.isArray(rawIds) ? rawIds : rawIds === undefined ? [] : [rawIds]).filter((x): x is string => typeof x === 'string' && x !== '');
  if (ids.length > MAX_IDS) throw new BadAction(`at most ${MAX_IDS} ids per action (${ids.length} given): select them with "every matching job" instead`);
  return {
    action: action as DashboardAction,
    queue: one(body['queue']),
    ids,
    all: one(body['select']) === 'all',
    job: one(body['job']),
    state: one(body['state']),
    dryRun: dryRunOf(one(body['dry'])),
    back: safeBack(one(body['return'])),
  };
}

/**
 * The live states a job action applies to in a listing of `state` (undefined: no state named, every state it applies
 * to). A state the action does not apply to is refused: taking it as "every state" would turn a forged "cancel every
 * active job" into "cancel every waiting, delayed and retrying job".
 */
function statesFor(action: DashboardAction, state: string | undefined): readonly LiveState[] | undefined {
  if (state === undefined) return undefined;
  if (!(action in ACTION_STATES)) {
    if (action.startsWith('dead-') && state !== 'dead') throw new BadAction(`${action} does not apply to ${state} jobs (dead letters only)`);
    return undefined;
  }
  const allowed = ACTION_STATES[action as keyof typeof ACTION_STATES];
  if (!(allowed as readonly string[]).includes(state)) throw new BadAction(`${action} does not apply to ${state} jobs (only to ${allowed.join(', ')})`);
  return [state as LiveState];
}

/** What an action did, for onAction and the result page. */
export interface ActionDone {
  readonly queue: string | undefined;
  readonly target: ActionTarget;
  readonly result: unknown;
}

/** Runs an action through the admin API. */
export async function runAction(ctx: Ctx, f: ActionForm): Promise<ActionDone> {
  const need = (v: string | undefined, what: string): string => {
    if (v === undefined) throw new BadAction(`${ACTION_LABELS[f.action]} needs ${what}`);
    return v;
  };
  switch (f.action) {
    case 'pause':
    case 'resume': {
      const queue = need(f.queue, 'a queue');
      return { queue, target: { selection: { queue } }, result: f.action === 'pause' ? await ctx.admin().pause(queue) : await ctx.admin().resume(queue) };
    }
    case 'dead-purge': {
      const queue = need(f.queue, 'a queue');
      return { queue, target: { selection: { queue } }, result: await ctx.admin().purgeDead(queue, { dryRun: f.dryRun }) };
    }
    case 'cron-trigger': {
      const job = need(f.job, 'a job type');
      const result = await ctx.admin().triggerCron(job);
      return { queue: result.queue, target: { selection: { queue: result.queue, job } }, result };
    }
    default: {
      const states = statesFor(f.action, f.state);
      if (f.ids.length > 0) {
        const result = await ctx.admin().act(f.action, f.ids, { queue: f.queue, states, dryRun: f.dryRun });
        return { queue: f.queue, target: { ids: f.ids }, result };
      }
      if (!f.all) throw new BadAction('check at least one job (or choose "every matching job")');
      const queue = need(f.queue, 'a queue');
      const result = await ctx.admin().bulk({
        action: f.action,
        queue,
        all: true,
        job: f.job,
        states,
        dryRun: f.dryRun,
        pageSize: BULK_PAGE_SIZE,
        signal: AbortSignal.timeout(BULK_TIME_BUDGET_MS),
      });
      return { queue, target: { selection: { queue, job: f.job, state: f.state } }, result };
    }
  }
}

/** The same form again, without the dry run: the confirmation of a counted bulk action. */
function confirmForm(page: Page, f: ActionForm, label: string): Html {
  return html`<form method="post" action="${href(page, 'actions')}" data-testid="confirm-form">
${hiddenFields(page, { action: f.action, return: f.back, queue: f.queue, job: f.job, state: f.state, select: f.all ? 'all' : undefined })}${f.ids.map((id) => html`<input type="hidden" name="id" value="${id}">`)}
<button type="submit" class="danger" data-testid="confirm-action">${label}</button></form>`;
}

/** The page answering an action. */
export function resultPage(page: Page, f: ActionForm, done: ActionDone): Html {
  const label = ACTION_LABELS[f.action];
  const back = html`<p><a href="${href(page, f.back)}" data-testid="back-link">← back</a></p>`;
  const r = done.result;
  let body: Html;
  if (f.action === 'pause' || f.action === 'resume') {
    const p = r as PauseOutcome;
    body = html`<p data-testid="action-summary">Queue ${p.queue} is ${p.paused ? 'paused' : 'running'}${p.changed ? '' : ' (it already was)'}.</p>`;
  } else if (f.action === 'dead-purge') {
    const p = r as PurgeOutcome;
    body = f.dryRun
      ? html`<p data-testid="action-summary">Queue ${p.queue} holds <strong data-testid="matched-count">${p.matched}</strong> dead letter(s). Delete them all?</p>${confirmForm(page, f, `Purge ${p.matched} dead letter(s)`)}`
      : html`<p data-testid="action-summary">Deleted <strong data-testid="done-count">${p.done}</strong> dead letter(s) of ${p.queue}.</p>`;
  } else if (f.action === 'cron-trigger') {
    const t = r as TriggerOutcome;
    body = html`<p data-testid="action-summary">${t.duplicate ? html`Not enqueued: job ${t.id} holds its unique key.` : html`Enqueued ${t.job} now: <a href="${jobHref(page, t.id)}">${t.id}</a> (its schedule is unchanged).`}</p>`;
  } else if ('results' in (r as object)) {
    const a = r as ActOutcome;
    body = html`<p data-testid="action-summary">${label}: <strong data-testid="done-count">${a.done}</strong> done${a.dryRun ? html` (dry run: ${a.matched} would be)` : ''}, ${a.skipped} left as they were, ${a.notFound} not found.</p>
<table data-testid="action-results"><thead><tr><th>ID</th><th>Result</th><th>State</th></tr></thead><tbody>${a.results.map((x) => html`<tr><td><a href="${jobHref(page, x.id)}">${x.id}</a></td><td data-testid="action-result">${x.result}${x.reason === undefined ? '' : ` (${x.reason})`}</td><td>${x.state}</td></tr>`)}</tbody></table>`;
  } else {
    const b = r as BulkOutcome;
    const sample = b.queues.flatMap((q) => q.sample);
    const scope = html`every ${f.state ?? ''} job${f.job === undefined ? '' : html` of type ${f.job}`} in ${f.queue ?? ''}`;
    body = b.dryRun
      ? html`<p data-testid="action-summary">${label} ${scope}: <strong data-testid="matched-count">${b.matched}</strong> job(s) match${b.interrupted ? ' so far (the count stopped at its time budget; there may be more)' : ''}.</p>
${sample.length === 0 ? '' : html`<p class="muted">first: ${sample.join(', ')}</p>`}
${b.matched === 0 ? '' : confirmForm(page, f, `${label} ${b.matched} job(s)`)}`
      : html`<p data-testid="action-summary">${label} ${scope}: <strong data-testid="done-count">${b.done}</strong> done, ${b.skipped} left as they were.</p>
${b.interrupted ? html`<p class="warn" data-testid="action-interrupted">Stopped at the time budget of ${BULK_TIME_BUDGET_MS / 1000} s; nothing was done twice. Submit again to go on.</p>${confirmForm(page, f, 'Go on')}` : ''}`;
  }
  return layout(page, `${label}${f.dryRun ? ' (dry run)' : ''}`, html`${body}${back}`, false);
}
