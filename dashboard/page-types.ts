/**
 * The job types page (each declared job's options, payload JSON Schema and payload versions: the current one, the one
 * producers write, each earlier version's JSON Schema) and its live check (`types/live-check`): the runtime's
 * `checkStoredJobs` run read-only over the stored jobs, bounded, showing per job type and version how many would
 * fail and the first failing paths. A GET that writes nothing: read-only users may run it (docs/dashboard.md).
 */
import { checkStoredJobs, type LiveCheckReport } from 'jobcraft';
import { describeResolvedJob } from 'jobcraft/schema';
import type { Ctx } from './context.js';
import { html, href, layout, type Html } from './html.js';

/** Most stored jobs one live check from the dashboard reads by default (option `liveCheckMaxJobs`; the report then says it is partial). */
export const DASHBOARD_LIVE_CHECK_MAX_JOBS = 10_000;

/** The bound (checked by createDashboard). */
const maxJobsOf = (ctx: Ctx): number => ctx.options.liveCheckMaxJobs ?? DASHBOARD_LIVE_CHECK_MAX_JOBS;
/** Entries per HSCAN page of the dashboard's live check. */
const LIVE_CHECK_PAGE_SIZE = 200;

interface ManifestJob {
  readonly name: string;
  readonly queue?: string;
  readonly description?: string | null;
  readonly resolved?: unknown;
  readonly options?: unknown;
  readonly input?: unknown;
  readonly version?: unknown;
  readonly emitVersion?: unknown;
  readonly versions?: unknown;
}

/** The jobs of a parsed manifest, or undefined when it is not one. */
function manifestJobs(manifest: unknown): readonly ManifestJob[] | undefined {
  const jobs = (manifest as { jobs?: unknown } | null | undefined)?.jobs;
  if (!Array.isArray(jobs)) return undefined;
  return jobs.filter((j): j is ManifestJob => typeof (j as { name?: unknown } | null)?.name === 'string');
}

/** The JSON Schema of a payload's input, from the zod schema's own `toJSONSchema` (zod 4 classic). */
function inputSchema(payload: unknown): unknown {
  const method = (payload as { toJSONSchema?: (params: Record<string, unknown>) => unknown } | null)?.toJSONSchema;
  if (typeof method !== 'function') return '(no JSON Schema: the payload schema has no toJSONSchema method)';
  try {
    return method.call(payload, { io: 'input', unrepresentable: 'any' });
  } catch (err) {
    return `(no JSON Schema: ${(err as Error).message})`;
  }
}

/** A job type as the page shows it. */
interface TypeView {
  readonly name: string;
  readonly options: unknown;
  readonly schema: unknown;
  /** The current payload version (1 without versions). */
  readonly version: number;
  /** The version producers write. */
  readonly emitVersion: number;
  /** The earlier versions, oldest first, with their input JSON Schema. */
  readonly earlier: readonly { readonly version: number; readonly schema: unknown }[];
}

const positive = (value: unknown, fallback: number): number => (typeof value === 'number' && Number.isInteger(value) && value >= 1 ? value : fallback);

function fromManifest(j: ManifestJob): TypeView {
  const version = positive(j.version, 1);
  const earlier = Array.isArray(j.versions)
    ? (j.versions as unknown[]).flatMap((v) => {
        const entry = v as { version?: unknown; input?: unknown } | null;
        return typeof entry?.version === 'number' ? [{ version: entry.version, schema: entry.input }] : [];
      })
    : [];
  return { name: j.name, options: { queue: j.queue, description: j.description, ...(j.resolved as object | undefined) }, schema: j.input, version, emitVersion: positive(j.emitVersion, version), earlier };
}

const schemaText = (schema: unknown): string => (typeof schema === 'string' ? schema : JSON.stringify(schema, null, 2));

function versionsSection(j: TypeView): Html {
  const summary =
    j.earlier.length === 0
      ? `version 1, the only one (no earlier versions)`
      : `current version ${j.version}; producers write version ${j.emitVersion}${j.emitVersion === j.version ? '' : ' (pinned with emitVersion)'}; stored jobs of versions 1 to ${j.version - 1} are migrated up before the handler runs`;
  return html`<h3>Payload versions</h3><p data-testid="job-type-versions" data-version="${j.version}" data-emit-version="${j.emitVersion}">${summary}</p>
${j.earlier.map((v) => html`<details data-testid="job-type-version" data-version="${v.version}"><summary>version ${v.version}: payload JSON Schema</summary><pre data-testid="job-type-version-schema">${schemaText(v.schema)}</pre></details>`)}`;
}

/**
 * The jobs the manifest says have earlier versions but the job set does not (a job set rebuilt from the manifest,
 * as `jobcraft dashboard --manifest` does: JSON carries no migration). A live check with it would count every stored
 * job of an earlier version as failing, so it is not offered.
 */
function migrationsMissing(ctx: Ctx): string[] {
  return (manifestJobs(ctx.options.manifest) ?? []).filter((j) => positive(j.version, 1) > (ctx.jobs?.jobs.get(j.name)?.version ?? 1)).map((j) => j.name);
}

function liveCheckUnavailable(ctx: Ctx): Html | undefined {
  if (ctx.jobs === undefined) {
    return html`<p class="muted" data-testid="live-check-unavailable">The live check needs the job set (the jobs option, or --schema/--manifest for the command).</p>`;
  }
  const missing = migrationsMissing(ctx);
  if (missing.length === 0) return undefined;
  return html`<p class="muted" data-testid="live-check-unavailable">The live check needs each job's migrations, which a manifest cannot carry: ${missing.join(', ')} ha${missing.length === 1 ? 's' : 've'} earlier payload versions in the manifest but not in the dashboard's job set. Give the dashboard the job set from the schema file (the jobs option, or --schema for the command).</p>`;
}

export function typesPage(ctx: Ctx): Html {
  const { page } = ctx;
  const manifest = manifestJobs(ctx.options.manifest);
  const jobs: TypeView[] =
    manifest !== undefined
      ? manifest.map(fromManifest)
      : [...(ctx.jobs?.jobs.values() ?? [])].map((j) => ({
          name: j.name,
          options: describeResolvedJob(j),
          schema: inputSchema(j.schema),
          version: j.version,
          emitVersion: j.emitVersion,
          earlier: j.versions.map((v) => ({ version: v.version, schema: inputSchema(v.schema) })),
        }));
  const liveCheck =
    liveCheckUnavailable(ctx) ??
    html`<form method="get" action="${href(page, 'types/live-check')}" data-testid="live-check-form"><p>Parse the jobs stored in Redis now (waiting, delayed, retrying, active, dead letters) with these job types, as a worker would, migrations included: read-only, at most ${maxJobsOf(ctx)} stored jobs. <button type="submit" data-testid="live-check-run">Run the live check</button></p></form>`;
  const body =
    jobs.length === 0
      ? html`<p class="muted" data-testid="no-types">No job set was given to the dashboard (the jobs or manifest option; --schema or --manifest for the command).</p>`
      : html`${liveCheck}${jobs
          .sort((a, b) => a.name.localeCompare(b.name))
          .map(
            (j) => html`<section class="job-type" data-testid="job-type" data-job="${j.name}"><h2 id="${`type-${j.name}`}">${j.name}</h2>
<h3>Options</h3><pre data-testid="job-type-options">${JSON.stringify(j.options, null, 2)}</pre>
<h3>Payload JSON Schema</h3><pre data-testid="job-type-schema">${schemaText(j.schema)}</pre>
${versionsSection(j)}</section>`,
          )}`;
  // No refresh: nothing here comes from Redis (the job set or manifest changes only with a restart), and a refresh closed
  // the <details> being read.
  return layout(page, 'Job types', body, false);
}

/** The live check's report as tables: per queue and job type, its versions and its first failing paths. */
function reportHtml(report: LiveCheckReport, bounded: boolean, max: number): Html {
  const types = report.queues.flatMap((q) => q.jobs.map((t) => ({ q, t })));
  const verdict = bounded
    ? html`<p class="warn" data-testid="live-check-verdict" data-verdict="partial">Partial: the first ${report.scanned} stored jobs were read (the dashboard reads at most ${max}); ${report.failing} of them would fail. Run <code>jobcraft check --live</code> to read every one.</p>`
    : report.failing > 0
      ? html`<p class="error" data-testid="live-check-verdict" data-verdict="would_fail">${report.failing} of ${report.scanned} stored jobs would fail at dequeue with these job types: a worker of this code would dead-letter them.</p>`
      : html`<p data-testid="live-check-verdict" data-verdict="ok">All ${report.scanned} stored jobs in ${report.queues.length} queue(s) parse with these job types.</p>`;
  if (types.length === 0) return html`${verdict}<p class="muted" data-testid="live-check-empty">No stored job.</p>`;
  return html`${verdict}
<table data-testid="live-check-table"><thead><tr><th>Queue</th><th>Job</th><th>Read</th><th>Would fail</th><th>By payload version (read / would fail)</th><th>First failing paths</th></tr></thead>
<tbody>${types.map(
    ({ q, t }) => html`<tr data-testid="live-check-row" data-queue="${q.queue}" data-job="${t.job ?? ''}"><td>${q.queue}</td><td>${t.job ?? html`<span class="muted">(no readable name)</span>`}${t.declared ? '' : html` <span class="muted">(not in this job set)</span>`}</td>
<td data-testid="live-check-read">${t.scanned}</td><td data-testid="live-check-failing" class="${t.failing > 0 ? 'error' : ''}">${t.failing}</td>
<td>${(t.versions ?? []).map((v) => html`<span data-testid="live-check-version" data-version="${v.version}">v${v.version}: ${v.scanned} / ${v.failing}</span> `)}</td>
<td>${t.paths.length === 0 ? '' : html`<ul>${t.paths.map((p) => html`<li data-testid="live-check-path"><code>${p.path === '' ? '(payload)' : p.path}</code> ${p.code} (${p.count}): ${p.message}</li>`)}</ul>`}${t.hint === undefined || t.failing === 0 ? '' : html`<p class="muted">${t.hint}</p>`}</td></tr>`,
  )}</tbody></table>`;
}

/** `types/live-check`: runs the live check (read-only, bounded) and shows its report. Never refreshes itself. */
export async function liveCheckPage(ctx: Ctx): Promise<Html> {
  const { page } = ctx;
  const unavailable = liveCheckUnavailable(ctx);
  if (unavailable !== undefined || ctx.jobs === undefined) return layout(page, 'Live check', unavailable ?? html``, false);
  // Bounded: stopped between two pages once the bound is read (the report then says interrupted).
  const max = maxJobsOf(ctx);
  const stop = new AbortController();
  let read = 0;
  const counted = new Map<string, number>();
  const report = await checkStoredJobs({
    redis: ctx.redis,
    prefix: ctx.options.prefix,
    jobs: ctx.jobs,
    // Never a page larger than the bound: a small bound reads little more than itself.
    pageSize: Math.min(LIVE_CHECK_PAGE_SIZE, max),
    signal: stop.signal,
    onProgress: (p) => {
      counted.set(`${p.queue}\u0000${p.source}`, p.scanned);
      read = [...counted.values()].reduce((a, b) => a + b, 0);
      if (read >= max) stop.abort();
    },
  });
  const body = html`<p><a href="${href(page, 'types')}" data-testid="back-to-types">← job types</a> · <a href="${href(page, 'types/live-check')}" data-testid="live-check-again">run it again</a></p>
${reportHtml(report, report.interrupted, max)}`;
  return layout(page, 'Live check', body, false);
}
