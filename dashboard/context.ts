/**
 * What a page handler works with: the read API (Inspector), the write API (Admin), the options, and the page's
 * link/nonce/token context. Shared listing pieces (the jobs table, the pager) live here too.
 */
import type { Admin, Inspector, JobSet, JobState, ListedJob, ListState } from 'jobcraft';
import type { Cluster, Redis } from 'ioredis';
import { html, href, jobHref, query, time, type Html, type Page } from './html.js';
import type { DashboardAction, DashboardOptions } from './options.js';

/** The series of a chart: bucket start times (s) and processed / failed / dead per bucket, summed over the queues. */
export interface ChartData {
  readonly range: 'hour' | 'day' | 'week';
  readonly t: number[];
  readonly processed: number[];
  readonly failed: number[];
  readonly dead: number[];
}

/** Charts reused across requests, per dashboard (page-overview.ts, RANGES). */
export type ChartCache = Map<string, { readonly at: number; readonly data: Promise<ChartData> }>;

/** A page handler's context. */
export interface Ctx {
  readonly inspector: Inspector;
  /** The write API, opened on first use. */
  readonly admin: () => Admin;
  readonly redis: Redis | Cluster;
  readonly options: DashboardOptions;
  readonly jobs: JobSet | undefined;
  readonly page: Page;
  readonly url: URL;
  /** The overview's charts reused across requests. */
  readonly charts: ChartCache;
}

/** Page sizes offered by listings (entries read from Redis per page). */
export const PAGE_SIZES: readonly number[] = [20, 50, 100, 200];
/** The default page size of a listing. */
export const DEFAULT_PAGE_SIZE = 50;

/** A request naming a query parameter or form field the dashboard does not take (answered 400 with the message). */
export class BadRequest extends Error {}

/** Refuses a query parameter's value, naming the parameter, the value and what it may be. */
export function badParam(name: string, value: string, allowed: readonly (string | number)[]): never {
  throw new BadRequest(`${name} must be one of ${allowed.join(', ')} (or left out): ${JSON.stringify(value)}`);
}

/** The `limit` query parameter: one of {@link PAGE_SIZES}, the default when absent or empty; anything else is refused. */
export function pageSize(url: URL): number {
  const v = param(url, 'limit');
  if (v === undefined) return DEFAULT_PAGE_SIZE;
  const n = Number(v);
  return PAGE_SIZES.includes(n) ? n : badParam('limit', v, PAGE_SIZES);
}

/** The `limit` to write into links: none for the default page size (links stay short). */
export function limitParam(limit: number): number | undefined {
  return limit === DEFAULT_PAGE_SIZE ? undefined : limit;
}

/** A query parameter, or undefined when absent or empty. */
export function param(url: URL, name: string): string | undefined {
  const v = url.searchParams.get(name);
  return v === null || v === '' ? undefined : v;
}

/** The actions on jobs in a state: on the selected jobs of a listing, and on the job page (none for other states). */
export function actionsFor(state: ListState | JobState): readonly DashboardAction[] {
  switch (state) {
    case 'waiting':
      return ['cancel'];
    case 'delayed':
      return ['promote', 'cancel'];
    case 'retrying':
      return ['retry', 'promote', 'cancel'];
    case 'dead':
      return ['dead-retry', 'dead-delete'];
    default:
      return [];
  }
}

/** The first line of an error message, cut to `max` characters (the job page shows it whole). */
function firstLine(text: string | undefined, max = 160): string {
  if (text === undefined) return '';
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** What the `at` column means in a state. */
function atLabel(state: ListState): string {
  switch (state) {
    case 'delayed':
    case 'retrying':
      return 'Due';
    case 'active':
      return 'Lease expires';
    case 'dead':
      return 'Died';
    case 'completed':
      return 'Finished';
    default:
      return '';
  }
}

/**
 * A listing with a checkbox per job when the state has actions the user may take: the checkboxes belong to the
 * form `formId` (its buttons act on the ids checked). `withReason`: a column of each dead letter's reason.
 */
export function jobsTable(page: Page, state: ListState, jobs: readonly ListedJob[], formId: string | undefined, withReason = false): Html {
  const now = Date.now();
  const selectable = formId !== undefined;
  const at = atLabel(state);
  if (jobs.length === 0) return html`<p class="muted" data-testid="jobs-empty">No jobs on this page.</p>`;
  return html`<table class="jobs" data-testid="jobs-table">
<thead><tr>${selectable ? html`<th><input type="checkbox" class="select-all" data-testid="select-all" aria-label="select all"></th>` : ''}<th>ID</th><th>Job</th>${withReason ? html`<th>Reason</th>` : ''}<th>Attempts</th><th>Enqueued</th>${at === '' ? '' : html`<th>${at}</th>`}<th>Last error</th></tr></thead>
<tbody>${jobs.map(
    (j) => html`<tr data-testid="job-row" data-job-id="${j.id}">${selectable ? html`<td><input type="checkbox" name="id" value="${j.id}" form="${formId}" data-testid="select-job"></td>` : ''}<td><a href="${jobHref(page, j.id)}" data-testid="job-link">${j.id}</a></td><td>${j.name ?? html`<span class="muted">?</span>`}</td>${withReason ? html`<td>${j.deadReason ?? ''}</td>` : ''}<td>${j.attempts}</td><td>${time(j.enqueuedAt, now)}</td>${at === '' ? '' : html`<td>${time(j.at, now)}</td>`}<td class="error">${firstLine(j.lastError === undefined ? undefined : `${j.lastError.name}: ${j.lastError.message}`)}</td></tr>`,
  )}</tbody>
</table>`;
}

/** "Next page" and "first page" links of a listing. */
export function pager(page: Page, path: string, params: Record<string, string | number | undefined>, cursor: string | undefined, atStart: boolean): Html {
  return html`<p class="pager">${atStart ? '' : html`<a href="${href(page, path + query({ ...params, cursor: undefined }))}" data-testid="first-page">first page</a> `}${cursor === undefined ? html`<span class="muted" data-testid="last-page">end of listing</span>` : html`<a href="${href(page, path + query({ ...params, cursor }))}" data-testid="next-page">next page →</a>`}</p>`;
}

/** A select of page sizes (for a listing's GET filter form). */
export function pageSizeSelect(limit: number): Html {
  return html`<label>per page <select name="limit" data-testid="page-size">${PAGE_SIZES.map((n) => html`<option value="${n}"${n === limit ? html` selected` : ''}>${n}</option>`)}</select></label>`;
}

/** The job names the job set declares for a queue (for the job-type filter), or undefined without a job set. */
export function jobNamesOf(jobs: JobSet | undefined, queue: string | undefined): string[] | undefined {
  if (jobs === undefined) return undefined;
  return [...jobs.jobs.values()].filter((j) => queue === undefined || j.queue === queue).map((j) => j.name).sort();
}

/** A job-type filter input: a select when the queue's job names are known, else a text field. */
export function jobFilter(names: readonly string[] | undefined, current: string | undefined): Html {
  // No names known for this queue (no job set, or none declared on it): any name may be typed.
  if (names === undefined || names.length === 0) return html`<label>job type <input name="job" value="${current ?? ''}" data-testid="job-filter" placeholder="any"></label>`;
  // A filter the job set does not list (another service's job, a name from the URL) stays shown and selected.
  const shown = current === undefined || names.includes(current) ? names : [...names, current];
  return html`<label>job type <select name="job" data-testid="job-filter"><option value="">any</option>${shown.map((n) => html`<option value="${n}"${n === current ? html` selected` : ''}>${n}</option>`)}</select></label>`;
}
