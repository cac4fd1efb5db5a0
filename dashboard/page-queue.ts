/**
 * One queue: its counts by state (links to each state's listing), one page of jobs in a state filtered by job type
 * (Inspector.jobs: one window of the index, never the whole queue), pause/resume, and actions on the jobs checked or
 * on every job of the selection (with a dry run first).
 */
import { LIST_STATES, type ListState } from 'jobcraft';
import { actionsFor, badParam, jobFilter, jobNamesOf, jobsTable, limitParam, pager, pageSize, pageSizeSelect, param, type Ctx } from './context.js';
import { ACTION_LABELS, actionButton, duration, formFields, hiddenFields, html, href, layout, query, seg, type Html, type Page } from './html.js';
import type { DashboardAction } from './options.js';

/** Buttons acting on the checked ids (a form the checkboxes point at). */
export function selectedForm(page: Page, formId: string, actions: readonly DashboardAction[], queue: string, state: string): Html {
  const allowed = actions.filter((a) => page.can(a));
  if (allowed.length === 0) return html``;
  return html`<form method="post" action="${href(page, 'actions')}" id="${formId}" class="bulk" data-testid="selected-form">
${hiddenFields(page, { return: page.here, queue, state })}
checked jobs: ${allowed.map((a) => html`<button type="submit" name="action" value="${a}" data-testid="selected-${a}">${ACTION_LABELS[a]}</button> `)}
</form>`;
}

/** Buttons acting on every job of a selection: each asks for a dry-run count first. */
export function matchingForm(page: Page, actions: readonly DashboardAction[], queue: string, state: string, job: string | undefined): Html {
  const allowed = actions.filter((a) => page.can(a));
  if (allowed.length === 0) return html``;
  return html`<form method="post" action="${href(page, 'actions')}" class="bulk" data-testid="matching-form">
${hiddenFields(page, { return: page.here, queue, state, select: 'all', job, dry: '1' })}
every ${state} job${job === undefined ? '' : html` of type ${job}`} in ${queue}: ${allowed.map((a) => html`<button type="submit" name="action" value="${a}" data-testid="matching-${a}">${ACTION_LABELS[a]}…</button> `)}
<span class="muted">(counts first: nothing changes until you confirm)</span>
</form>`;
}

/** The button purging a queue's dead letters (after a dry-run count), or nothing when purging is not allowed. */
export function purgeForm(page: Page, queue: string, label: string): Html {
  if (!page.can('dead-purge')) return html``;
  return html`<form method="post" action="${href(page, 'actions')}" class="bulk">${formFields(page, 'dead-purge', { queue, dry: '1' })}<button type="submit" class="danger" data-testid="purge-dead">${label}</button></form>`;
}

export async function queuePage(ctx: Ctx, queue: string): Promise<Html> {
  const { page, url } = ctx;
  const stateParam = param(url, 'state') ?? 'waiting';
  // A mistyped state (BullMQ's `failed`) is refused: shown as the waiting jobs, it would pass for that state's listing.
  const state: ListState = (LIST_STATES as readonly string[]).includes(stateParam) ? (stateParam as ListState) : badParam('state', stateParam, LIST_STATES);
  const job = state === 'completed' ? undefined : param(url, 'job');
  const cursor = param(url, 'cursor');
  const limit = pageSize(url);
  // The registry first: stats and jobs then take the queue's entry from the inspector's copy of this read (kept 5 s);
  // sent together, each would read the registry again whenever that copy is stale, as it is at every 5 s poll.
  const registered = (await ctx.inspector.queues()).some((q) => q.queue === queue);
  const [stats, listing] = await Promise.all([ctx.inspector.stats(queue), ctx.inspector.jobs(queue, { state, job, limit, cursor })]);
  const counts: Record<ListState, number> = { waiting: stats.waiting, delayed: stats.delayed, retrying: stats.retrying, active: stats.active, dead: stats.dead, completed: stats.completed };
  const actions = actionsFor(state);
  const formId = actions.some((a) => page.can(a)) ? 'selected' : undefined;
  const base = `queues/${seg(queue)}`;
  const body = html`
${registered ? '' : html`<p class="warn" data-testid="queue-unknown">No queue named ${queue} is registered under this prefix (a worker or a client registers its queues when it starts): check the name.</p>`}
<div class="queue-head">${stats.paused ? html`<span class="warn" data-testid="queue-paused">paused</span> ${actionButton(page, 'resume', { queue }, 'resume-queue')}` : html`<span data-testid="queue-running">running</span> ${actionButton(page, 'pause', { queue }, 'pause-queue')}`} latency ${duration(stats.latencyMs)}</div>
<nav class="tabs" data-testid="state-tabs">${LIST_STATES.map((s) => html`<a href="${href(page, base + query({ state: s, job: s === 'completed' ? undefined : job, limit: limitParam(limit) }))}" class="${s === state ? 'current' : ''}" data-testid="state-${s}">${s} <span class="count" data-testid="state-count-${s}">${counts[s]}</span></a>`)}</nav>
<form method="get" action="${href(page, base)}" class="filter" data-testid="filter-form"><input type="hidden" name="state" value="${state}">${state === 'completed' ? html`<span class="muted">completed records keep no job type</span>` : jobFilter(jobNamesOf(ctx.jobs, queue), job)} ${pageSizeSelect(limit)} <button type="submit" data-testid="apply-filter">Show</button></form>
${job === undefined ? '' : html`<p class="muted">The job-type filter applies within each page of ${limit} entries read: a page may show fewer jobs while more remain.</p>`}
${formId === undefined ? '' : selectedForm(page, formId, actions, queue, state)}
${jobsTable(page, state, listing.jobs, formId)}
${pager(page, base, { state, job, limit: limitParam(limit) }, listing.cursor, cursor === undefined)}
${matchingForm(page, actions, queue, state, job)}
${state === 'dead' ? purgeForm(page, queue, `Purge every dead letter of ${queue}…`) : ''}`;
  return layout(page, `Queue ${queue}`, body);
}
