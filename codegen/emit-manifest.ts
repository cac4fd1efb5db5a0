/**
 * generated/jobs.manifest.json: every job's name, queue, options and the JSON Schema of its input (and of its result,
 * for a job that declares one), for tools and
 * programs in other languages that enqueue jobs.
 */
import { JOB_DESCRIPTION, type DescribedField } from 'jobcraft/rules';
import { GENERATED_MARK, type EmitContext, type EmitJob } from './emit-common.js';

/** The described fields the runtime's declaration places at `place`, in its order. */
function fields(job: EmitJob, place: DescribedField['manifest']): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, described] of Object.entries(JOB_DESCRIPTION) as [keyof typeof JOB_DESCRIPTION, DescribedField][]) {
    if (described.manifest === place) out[field] = job.resolved[field];
  }
  return out;
}

export function emitManifest(ctx: EmitContext): string {
  const manifest = {
    $comment: `${GENERATED_MARK}. Regenerate with \`jobcraft codegen\`.`,
    schema: ctx.schemaPath,
    jobs: ctx.jobs.map((job) => ({
      name: job.declared.name,
      ...fields(job, 'job'),
      options: job.declared.options,
      resolved: fields(job, 'resolved'),
      input: job.resolved.inputJsonSchema,
      // The JSON Schema of the result's input (what is stored), for a job that declares one (docs/results.md).
      ...(job.resolved.resultJsonSchema === null || job.resolved.resultJsonSchema === undefined ? {} : { result: job.resolved.resultJsonSchema }),
      // For a job with earlier payload versions (docs/contracts.md, "Versioned payloads"): the current version's
      // number (that of `input`), the one producers write, and each earlier version's input JSON Schema, oldest first.
      ...(job.resolved.versions.length === 0
        ? {}
        : {
            version: job.resolved.version.current,
            emitVersion: job.resolved.version.emit,
            versions: job.resolved.versions.map((v) => ({ version: v.version, input: v.input })),
          }),
    })),
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
