/**
 * The rules the code generator checks at build time, with no package under them: job names, and how each field of a
 * resolved job is shown (in the worker thread that runs a schema file and in `jobs.manifest.json`). Imported by the
 * `jobcraft` command's main thread as `jobcraft/rules`, which then loads neither zod nor cron-parser (about 100 ms
 * of a build's start-up); `jobcraft/schema` re-exports all of it (and `jobcraft` the name rule) as the same objects.
 * @packageDocumentation
 */
import type { JobOptionKey, ResolvedJob } from './job-options.js';

export { JOB_NAME_PATTERN } from './job-name.js';

/** A JSON value, as the code generator receives it from the worker thread that ran the schema file. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** How one field of a resolved job is shown by the code generator. */
export interface DescribedField {
  /** The options this field comes from: every option is described by exactly one field. */
  readonly from: readonly Exclude<JobOptionKey, 'payload'>[];
  /**
   * Where `jobs.manifest.json` shows the field: `job` beside the job's name, `resolved` in its `resolved` block, or
   * `false` for not at all (the code generator still receives it).
   */
  readonly manifest: 'job' | 'resolved' | false;
  /** The field as JSON. */
  readonly show: (job: ResolvedJob) => JsonValue;
}

/**
 * The fields of a resolved job the code generator receives (in this order) and how the manifest shows them. The
 * payload is described apart, as the JSON Schema of its input.
 */
export const JOB_DESCRIPTION = {
  queue: { from: ['queue'], manifest: 'job', show: (job: ResolvedJob): string => job.queue },
  description: { from: ['description'], manifest: 'job', show: (job: ResolvedJob): string | null => job.description ?? null },
  attempts: { from: ['attempts'], manifest: 'resolved', show: (job: ResolvedJob): number => job.attempts },
  backoff: { from: ['backoff'], manifest: 'resolved', show: (job: ResolvedJob): ResolvedJob['backoff'] => ({ ...job.backoff }) },
  timeoutMs: { from: ['timeout'], manifest: 'resolved', show: (job: ResolvedJob): number | null => job.timeoutMs ?? null },
  priority: { from: ['priority'], manifest: 'resolved', show: (job: ResolvedJob): number => job.priority },
  cron: {
    from: ['cron', 'tz', 'catchUp', 'cronPayload'],
    manifest: 'resolved',
    show: (job: ResolvedJob): { readonly pattern: string; readonly tz: string; readonly catchUp: string } | null =>
      job.cron === undefined ? null : { pattern: job.cron.pattern, tz: job.cron.tz, catchUp: job.cron.catchUp },
  },
  unique: {
    from: ['unique'],
    manifest: 'resolved',
    show: (job: ResolvedJob): { readonly by: readonly string[] | string | null; readonly ttlMs: number; readonly until: string } | null => {
      const u = job.unique;
      return u === undefined ? null : { by: typeof u.by === 'function' ? '[function]' : (u.by ?? null), ttlMs: u.ttlMs, until: u.until };
    },
  },
  // Not in the manifest (yet): adding it would change every generated manifest; enqueuing tools do not need it.
  throttle: {
    from: ['concurrency', 'rateLimit'],
    manifest: false,
    show: (job: ResolvedJob): { readonly concurrency: number; readonly rateMax: number; readonly ratePerMs: number } | null =>
      job.throttle === undefined ? null : { ...job.throttle },
  },
  // The result's schema is described apart (as the JSON Schema of its input, like the payload's); this is the rest.
  result: {
    from: ['result', 'resultRetention', 'maxResultBytes'],
    manifest: 'resolved',
    show: (job: ResolvedJob): { readonly retentionMs: number; readonly maxBytes: number } | null =>
      job.result === undefined ? null : { retentionMs: job.result.retentionMs, maxBytes: job.result.maxBytes },
  },
  aliases: { from: ['aliases'], manifest: 'job', show: (job: ResolvedJob): readonly string[] => [...job.aliases] },
  // Each version's schema is described apart (its JSON Schemas, like the payload's); the manifest lists them then.
  version: {
    from: ['versions', 'emitVersion'],
    manifest: false,
    show: (job: ResolvedJob): { readonly current: number; readonly emit: number } => ({ current: job.version, emit: job.emitVersion }),
  },
} as const satisfies Readonly<Record<string, DescribedField>>;

/** A resolved job as the code generator receives it: each field of {@link JOB_DESCRIPTION}, shown. */
export type JobDescription = { readonly [K in keyof typeof JOB_DESCRIPTION]: ReturnType<(typeof JOB_DESCRIPTION)[K]['show']> };

/** Shows every field of {@link JOB_DESCRIPTION} for one job. */
export function describeResolvedJob(job: ResolvedJob): JobDescription {
  const out: Record<string, JsonValue> = {};
  for (const [field, described] of Object.entries(JOB_DESCRIPTION) as [string, DescribedField][]) out[field] = described.show(job);
  return out as JobDescription;
}
