/**
 * generated/jobs.manifest.json: every job's name, queue, options and the JSON Schema of its input, for tools and
 * programs in other languages that enqueue jobs.
 */
import { description, GENERATED_MARK, type EmitContext } from './emit-common.js';

export function emitManifest(ctx: EmitContext): string {
  const manifest = {
    $comment: `${GENERATED_MARK}. Regenerate with \`jobcraft codegen\`.`,
    schema: ctx.schemaPath,
    jobs: ctx.jobs.map((job) => {
      const r = job.resolved;
      return {
        name: job.declared.name,
        queue: r.queue,
        description: description(job) ?? null,
        options: job.declared.options,
        resolved: {
          attempts: r.attempts,
          backoff: r.backoff,
          timeoutMs: r.timeoutMs,
          priority: r.priority,
          cron: r.cron,
          unique: r.unique,
        },
        input: r.inputJsonSchema,
      };
    }),
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
