/**
 * Dead letters by queue and job type: the counts of every queue, then one page of the chosen queue's dead letters
 * (newest first) with each one's reason and error (both from the listing's dead-letter records: no payload leaves
 * Redis); retry or delete the checked ones, or every one matching after a dry-run count.
 */
import { jobFilter, jobNamesOf, jobsTable, limitParam, pager, pageSize, pageSizeSelect, param, type Ctx } from './context.js';
import { ACTION_LABELS, html, href, layout, query, type Html } from './html.js';
import { matchingForm, purgeForm, selectedForm } from './page-queue.js';

export async function deadPage(ctx: Ctx): Promise<Html> {
  const { page, url } = ctx;
  const stats = await ctx.inspector.allStats();
  const withDead = stats.filter((s) => s.dead > 0);
  const queue = param(url, 'queue') ?? withDead[0]?.queue;
  const job = param(url, 'job');
  const cursor = param(url, 'cursor');
  const limit = pageSize(url);
  const listing = queue === undefined ? undefined : await ctx.inspector.jobs(queue, { state: 'dead', job, limit, cursor });
  const formId = page.can('dead-retry') || page.can('dead-delete') ? 'selected' : undefined;
  const body = html`
<table data-testid="dead-counts"><thead><tr><th>Queue</th><th>Dead letters</th></tr></thead>
<tbody>${stats.map((s) => html`<tr class="${s.queue === queue ? 'current' : ''}"><td><a href="${href(page, `dead${query({ queue: s.queue })}`)}" data-testid="dead-queue-link">${s.queue}</a></td><td data-testid="dead-count">${s.dead}</td></tr>`)}</tbody></table>
${queue === undefined
  ? html`<p class="muted" data-testid="no-dead">No dead letters.</p>`
  : html`<h2>Dead letters of ${queue}</h2>
<form method="get" action="${href(page, 'dead')}" class="filter" data-testid="filter-form"><input type="hidden" name="queue" value="${queue}">${jobFilter(jobNamesOf(ctx.jobs, queue), job)} ${pageSizeSelect(limit)} <button type="submit" data-testid="apply-filter">Show</button></form>
${formId === undefined ? '' : selectedForm(page, formId, ['dead-retry', 'dead-delete'], queue, 'dead')}
${jobsTable(page, 'dead', listing?.jobs ?? [], formId, true)}
${pager(page, 'dead', { queue, job, limit: limitParam(limit) }, listing?.cursor, cursor === undefined)}
${matchingForm(page, ['dead-retry', 'dead-delete'], queue, 'dead', job)}
${purgeForm(page, queue, `${ACTION_LABELS['dead-purge']} of ${queue}…`)}`}`;
  return layout(page, 'Dead letters', body);
}
