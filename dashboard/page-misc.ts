/**
 * The scheduled page (delayed jobs by due time per queue, cron jobs with their last and next firing) and the workers
 * page (the worker registry). The job types page is page-types.ts.
 */
import type { CronEntry } from 'jobcraft';
import { actionsFor, jobsTable, limitParam, pager, pageSize, param, type Ctx } from './context.js';
import { actionButton, html, href, jobHref, layout, query, time, type Html } from './html.js';
import { selectedForm } from './page-queue.js';

export async function scheduledPage(ctx: Ctx): Promise<Html> {
  const { page, url } = ctx;
  const stats = await ctx.inspector.allStats();
  const queue = param(url, 'queue') ?? stats.find((s) => s.delayed > 0)?.queue ?? stats[0]?.queue;
  const cursor = param(url, 'cursor');
  const limit = pageSize(url);
  const [listing, cron] = await Promise.all([
    queue === undefined ? undefined : ctx.inspector.jobs(queue, { state: 'delayed', limit, cursor }),
    ctx.jobs === undefined ? undefined : Promise.resolve().then(() => ctx.admin().cron()).catch((err: unknown) => (err as Error)),
  ]);
  const now = Date.now();
  const formId = actionsFor('delayed').some((a) => page.can(a)) ? 'selected' : undefined;
  const cronTable = (entries: readonly CronEntry[]): Html =>
    entries.length === 0
      ? html`<p class="muted" data-testid="no-cron">The job set declares no cron job.</p>`
      : html`<table data-testid="cron-table"><thead><tr><th>Job</th><th>Queue</th><th>Schedule</th><th>TZ</th><th>Catch-up</th><th>Last firing</th><th>Next firing</th><th></th></tr></thead>
<tbody>${entries.map((c) => html`<tr data-testid="cron-row" data-job="${c.name}"><td>${c.name}</td><td>${c.queue}</td><td><code>${c.schedule}</code></td><td>${c.tz}</td><td>${c.catchUp}</td><td data-testid="cron-last">${time(c.lastFiring, now)}</td><td data-testid="cron-next">${time(c.nextFiring, now)}</td><td>${actionButton(page, 'cron-trigger', { job: c.name, queue: c.queue }, 'cron-trigger')}</td></tr>`)}</tbody></table>`;
  const body = html`
<h2>Delayed jobs by due time</h2>
<p class="queues">${stats.map((s) => html`<a href="${href(page, `scheduled${query({ queue: s.queue })}`)}" class="${s.queue === queue ? 'current' : ''}" data-testid="scheduled-queue-link">${s.queue} (${s.delayed})</a> `)}</p>
${queue === undefined
  ? html`<p class="muted">No queues.</p>`
  : html`${formId === undefined ? '' : selectedForm(page, formId, actionsFor('delayed'), queue, 'delayed')}
${jobsTable(page, 'delayed', listing?.jobs ?? [], formId)}
${pager(page, 'scheduled', { queue, limit: limitParam(limit) }, listing?.cursor, cursor === undefined)}
<p class="muted">The counts are of every scheduled job (delayed, snoozed, and retrying after a backoff); this list shows those without an error record. Retrying jobs are on the queue page, state retrying.</p>`}
<h2>Cron jobs</h2>
${cron === undefined ? html`<p class="muted" data-testid="no-jobset">Cron jobs are listed when the dashboard is given the job set (the jobs option, or --schema/--manifest).</p>` : cron instanceof Error ? html`<p class="error" data-testid="cron-error">Reading the cron jobs failed: ${cron.message}</p>` : cronTable(cron)}`;
  return layout(page, 'Scheduled', body);
}

export async function workersPage(ctx: Ctx): Promise<Html> {
  const { page } = ctx;
  const workers = await ctx.inspector.workers();
  const now = Date.now();
  const body =
    workers.length === 0
      ? html`<p class="muted" data-testid="no-workers">No live worker process.</p>`
      : html`<table data-testid="workers-table"><thead><tr><th>Name</th><th>Host</th><th>PID</th><th>Version</th><th>Queues</th><th>Running</th><th>Started</th><th>Last heartbeat</th></tr></thead>
<tbody>${workers.map(
          (w) => html`<tr data-testid="worker-row" data-worker-id="${w.id}"><td>${w.name}</td><td>${w.host}</td><td>${w.pid}</td><td>${w.version}</td><td>${w.queues.join(', ')}</td>
<td data-testid="worker-running">${w.runningCount}/${w.concurrency}${w.running.length === 0 ? '' : html`<ul class="running">${w.running.map((r) => html`<li><a href="${jobHref(page, r.id)}">${r.id}</a> ${r.name} (${time(r.startedAt, now)})</li>`)}${w.runningCount > w.running.length ? html`<li class="muted">… ${w.runningCount - w.running.length} more</li>` : ''}</ul>`}</td>
<td>${time(w.startedAt, now)}</td><td data-testid="worker-heartbeat">${time(w.lastBeatAt, now)}</td></tr>`,
        )}</tbody></table>`;
  return layout(page, 'Workers', body);
}
