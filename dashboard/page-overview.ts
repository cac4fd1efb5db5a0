/**
 * The overview: every queue with its counts, latency and paused flag (one stats.lua call per queue); throughput,
 * failures and dead letters over the last hour, day or week (the history's minute buckets for hour and day, hour
 * buckets for the week); Redis's version, memory and eviction policy.
 */
import type { HistoryPoint } from 'jobcraft';
import { actionButton, bytes, duration, html, href, jsonBlock, layout, query, seg, type Html } from './html.js';
import { badParam, param, type ChartData, type Ctx } from './context.js';
import { redisFacts } from './redis-info.js';

/**
 * The chart ranges: how far back, at which resolution, and how long a chart is reused (the day's 1,440 minute
 * buckets per queue are read at most once a minute, the week's once in five, however often pages poll).
 */
const RANGES = {
  hour: { ms: 3_600_000, resolution: 'minute', reuseMs: 0 },
  day: { ms: 86_400_000, resolution: 'minute', reuseMs: 60_000 },
  week: { ms: 7 * 86_400_000, resolution: 'hour', reuseMs: 300_000 },
} as const;
type Range = keyof typeof RANGES;

function cachedChart(ctx: Ctx, queues: readonly string[], range: Range): Promise<ChartData> {
  const { reuseMs } = RANGES[range];
  if (reuseMs === 0) return chartData(ctx, queues, range);
  const key = `${range}|${queues.join(',')}`;
  const hit = ctx.charts.get(key);
  if (hit !== undefined && Date.now() - hit.at < reuseMs) return hit.data;
  const data = chartData(ctx, queues, range);
  // One entry per range: a new queue list replaces the old one's.
  for (const k of ctx.charts.keys()) if (k.startsWith(`${range}|`)) ctx.charts.delete(k);
  ctx.charts.set(key, { at: Date.now(), data });
  data.catch(() => ctx.charts.delete(key));
  return data;
}

async function chartData(ctx: Ctx, queues: readonly string[], range: Range): Promise<ChartData> {
  const { ms, resolution } = RANGES[range];
  const to = Date.now();
  const histories = await Promise.all(queues.map((q) => ctx.inspector.history(q, { resolution, from: to - ms, to })));
  const byTime = new Map<number, { processed: number; failed: number; dead: number }>();
  const add = (p: HistoryPoint): void => {
    const t = p.at.getTime();
    const sum = byTime.get(t) ?? { processed: 0, failed: 0, dead: 0 };
    sum.processed += p.processed;
    sum.failed += p.failed;
    sum.dead += p.dead;
    byTime.set(t, sum);
  };
  for (const h of histories) for (const p of h.points) add(p);
  const times = [...byTime.keys()].sort((a, b) => a - b);
  return {
    range,
    t: times.map((t) => t / 1000),
    processed: times.map((t) => byTime.get(t)?.processed ?? 0),
    failed: times.map((t) => byTime.get(t)?.failed ?? 0),
    dead: times.map((t) => byTime.get(t)?.dead ?? 0),
  };
}

export async function overviewPage(ctx: Ctx): Promise<Html> {
  const { page } = ctx;
  const rangeParam = param(ctx.url, 'range');
  const range: Range = rangeParam === undefined ? 'hour' : Object.hasOwn(RANGES, rangeParam) ? (rangeParam as Range) : badParam('range', rangeParam, Object.keys(RANGES));
  const [stats, facts] = await Promise.all([ctx.inspector.allStats(), redisFacts(ctx.redis)]);
  const chart = await cachedChart(ctx, stats.map((s) => s.queue), range);
  const total = (k: 'processed' | 'failed' | 'dead'): number => chart[k].reduce((a, b) => a + b, 0);
  const body = html`
<section>
<h2>Queues</h2>
${stats.length === 0
  ? html`<p class="muted" data-testid="no-queues">No queue is registered under this prefix yet (a worker or a client registers its queues when it starts).</p>`
  : html`<table data-testid="queues-table">
<thead><tr><th>Queue</th><th>Waiting</th><th>Delayed</th><th>Active</th><th>Retrying</th><th>Dead</th><th>Completed</th><th>Latency</th><th>Paused</th><th></th></tr></thead>
<tbody>${stats.map(
      (s) => html`<tr data-testid="queue-row" data-queue="${s.queue}">
<td><a href="${href(page, `queues/${seg(s.queue)}`)}" data-testid="queue-link">${s.queue}</a></td>
<td data-testid="count-waiting">${s.waiting}</td><td data-testid="count-delayed">${s.delayed}</td><td data-testid="count-active">${s.active}</td><td data-testid="count-retrying">${s.retrying}</td>
<td data-testid="count-dead"><a href="${href(page, `dead${query({ queue: s.queue })}`)}">${s.dead}</a></td><td data-testid="count-completed">${s.completed}</td>
<td>${duration(s.latencyMs)}</td><td data-testid="paused">${s.paused ? html`<span class="warn">paused</span>` : 'no'}</td>
<td>${s.paused ? actionButton(page, 'resume', { queue: s.queue }, 'resume-queue') : actionButton(page, 'pause', { queue: s.queue }, 'pause-queue')}</td>
</tr>`,
    )}</tbody></table>`}
</section>
<section>
<h2>History</h2>
<p class="ranges">${(Object.keys(RANGES) as Range[]).map((r) => (r === range ? html`<strong data-testid="range-${r}">last ${r}</strong> ` : html`<a href="${href(page, query({ range: r }))}" data-testid="range-${r}">last ${r}</a> `))}</p>
<p data-testid="history-totals">processed <strong data-testid="total-processed">${total('processed')}</strong>, failed attempts <strong data-testid="total-failed">${total('failed')}</strong>, dead letters <strong data-testid="total-dead">${total('dead')}</strong> in the last ${range} (${RANGES[range].resolution} buckets)</p>
<div class="chart" id="chart" data-testid="history-chart"></div>
${jsonBlock('chart-data', chart)}
</section>
<section>
<h2>Redis</h2>
<table class="facts" data-testid="redis-facts">
<tr><th>Version</th><td data-testid="redis-version">${facts.version ?? '?'}</td></tr>
<tr><th>Memory used</th><td>${facts.usedMemory === undefined ? '?' : bytes(facts.usedMemory)}</td></tr>
<tr><th>maxmemory</th><td>${facts.maxMemory === undefined ? '?' : facts.maxMemory === 0 ? 'no limit' : bytes(facts.maxMemory)}</td></tr>
<tr><th>Eviction policy</th><td data-testid="redis-policy">${facts.policy ?? '?'}</td></tr>
</table>
${facts.mayEvict ? html`<p class="warn" data-testid="eviction-warning">maxmemory-policy is ${facts.policy}: under memory pressure Redis may delete job keys and lose jobs. Set it to noeviction (docs/reliability.md).</p>` : ''}
</section>`;
  return layout(page, 'Overview', body);
}
