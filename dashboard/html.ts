/**
 * HTML building blocks: every page goes through {@link layout}, every value through hono's `html` template, which
 * escapes each interpolated string (payloads, job names, errors, worker and queue names are attacker-controlled).
 * Nothing here writes an absolute URL: links are relative to the page ({@link Page.root}), so a base path or a
 * reverse proxy prefix works unchanged.
 */
import { html, raw } from 'hono/html';
import { CSRF_FIELD } from './security.js';
import type { DashboardAction } from './options.js';

/** What hono's `html` template returns. */
export type Html = ReturnType<typeof html>;
export { html, raw };

/** What a page needs to render links, forms and scripts. */
export interface Page {
  /** The relative path from this page to the dashboard's root (`./`, `../`). */
  readonly root: string;
  /** The script nonce of this response. */
  readonly nonce: string;
  /** The CSRF token for the forms of this response. */
  readonly csrf: string;
  /** Whether an action may be taken (its buttons shown). */
  readonly can: (action: DashboardAction) => boolean;
  /** The default refresh period (ms). */
  readonly pollMs: number;
  /** This page's path and query relative to the root, for forms to come back to. */
  readonly here: string;
}

/** A link to a path under the root, each segment already encoded by {@link seg}. */
export function href(page: Page, path: string): string {
  return `${page.root}${path}`;
}

/** One path segment, encoded (job ids hold `#`, queue names may hold anything but braces). */
export function seg(text: string): string {
  return encodeURIComponent(text);
}

/** A link to a job's page (`suffix`: a path under it, e.g. `/payload`). */
export function jobHref(page: Page, id: string, suffix = ''): string {
  return href(page, `jobs/${seg(id)}${suffix}`);
}

/** A query string from the defined values. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

/** A time as ISO text with a relative hint, in a `<time>` element the script may localise. */
export function time(at: Date | undefined, now = Date.now()): Html {
  if (at === undefined || Number.isNaN(at.getTime())) return html`<span class="muted">-</span>`;
  return html`<time datetime="${at.toISOString()}" title="${at.toISOString()}">${relative(at.getTime() - now)}</time>`;
}

/** `5s ago`, `in 2m`. */
export function relative(deltaMs: number): string {
  const abs = Math.abs(deltaMs);
  const text = abs < 1_000 ? `${abs}ms` : abs < 60_000 ? `${Math.round(abs / 1_000)}s` : abs < 3_600_000 ? `${Math.round(abs / 60_000)}m` : abs < 86_400_000 ? `${(abs / 3_600_000).toFixed(1)}h` : `${(abs / 86_400_000).toFixed(1)}d`;
  return deltaMs <= 0 ? `${text} ago` : `in ${text}`;
}

/** A duration in ms, short. */
export function duration(ms: number): string {
  if (ms <= 0) return '-';
  return ms < 1_000 ? `${ms} ms` : ms < 60_000 ? `${(ms / 1_000).toFixed(1)} s` : ms < 3_600_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 3_600_000).toFixed(1)} h`;
}

/** A byte count, short. */
export function bytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : n < 1024 ** 3 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** The hidden fields of a POST form: the CSRF token, then each field given a value. */
export function hiddenFields(page: Page, fields: Record<string, string | undefined>): Html {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${page.csrf}">${Object.entries(fields).map(([k, v]) => (v === undefined ? '' : html`<input type="hidden" name="${k}" value="${v}">`))}`;
}

/** The hidden fields every action form carries. */
export function formFields(page: Page, action: DashboardAction, fields: Record<string, string | undefined> = {}): Html {
  return hiddenFields(page, { action, return: page.here, ...fields });
}

/** What each action's buttons say. */
export const ACTION_LABELS: Readonly<Record<DashboardAction, string>> = {
  retry: 'Retry now',
  promote: 'Promote (run now)',
  cancel: 'Cancel',
  delete: 'Delete',
  'dead-retry': 'Retry',
  'dead-delete': 'Delete',
  'dead-purge': 'Purge all',
  pause: 'Pause',
  resume: 'Resume',
  'cron-trigger': 'Trigger now',
};

/** A one-button action form (labelled by {@link ACTION_LABELS}), or nothing when the action is not allowed. */
export function actionButton(page: Page, action: DashboardAction, fields: Record<string, string | undefined>, testId: string, danger = false): Html {
  if (!page.can(action)) return html``;
  return html`<form method="post" action="${href(page, 'actions')}" class="inline"${danger ? raw(' data-confirm="1"') : ''}>${formFields(page, action, fields)}<button type="submit" data-testid="${testId}" class="${danger ? 'danger' : ''}">${ACTION_LABELS[action]}</button></form>`;
}

const NAV: readonly (readonly [string, string, string])[] = [
  ['', 'Overview', 'nav-overview'],
  ['dead', 'Dead letters', 'nav-dead'],
  ['scheduled', 'Scheduled', 'nav-scheduled'],
  ['workers', 'Workers', 'nav-workers'],
  ['types', 'Job types', 'nav-types'],
];

/** A whole HTML page; `refresh: false` for a page that must not reload itself (an action's answer, an error). */
export function layout(page: Page, title: string, body: Html, refresh = true): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<meta name="jobcraft-csrf" content="${page.csrf}">
<link rel="icon" href="data:,">
<title>${title} · jobcraft</title>
<link rel="stylesheet" href="${href(page, 'static/uPlot.min.css')}">
<link rel="stylesheet" href="${href(page, 'static/dashboard.css')}">
</head>
<body data-poll-ms="${page.pollMs}"${refresh ? '' : html` data-no-refresh="1"`}>
<header>
<a class="brand" href="${href(page, '')}">jobcraft</a>
<nav>${NAV.map(([path, label, id]) => html`<a href="${href(page, path)}" data-testid="${id}">${label}</a>`)}</nav>
<label class="refresh">refresh <select id="refresh-interval" data-testid="refresh-interval">
<option value="0">off</option><option value="2000">2 s</option><option value="5000">5 s</option><option value="15000">15 s</option><option value="60000">1 min</option>
</select></label>
</header>
<main id="content" data-testid="content">
<h1 data-testid="page-title">${title}</h1>
${body}
</main>
<script nonce="${page.nonce}" src="${href(page, 'static/uPlot.iife.min.js')}"></script>
<script nonce="${page.nonce}" src="${href(page, 'static/dashboard.js')}"></script>
</body>
</html>`;
}

/** JSON for a `<script type="application/json">` data block: `<` escaped so no text in it can close the element. */
export function jsonBlock(id: string, value: unknown): Html {
  const text = JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  return html`<script type="application/json" id="${id}">${raw(text)}</script>`;
}
