/**
 * generated/payloads.ts: per job the payload types written out as plain TypeScript, `…Input` (what enqueue takes)
 * and `…Payload` (what the handler gets), then a compile-time proof that each equals `z.input` / `z.output` of the
 * schema, so a schema changed without regenerating fails `tsc` on the job that drifted.
 */
import { header, importJobSet, literal, tsdoc, type EmitContext, type EmitJob } from './emit-common.js';
import { UnprintableType } from './print-type.js';

interface WrittenType {
  readonly text: string;
  /** Why the zod type is used instead of a plain one, when it is. */
  readonly fallback?: string;
}

function write(ctx: EmitContext, job: EmitJob, io: 'input' | 'output'): WrittenType {
  const type = io === 'input' ? job.declared.input : job.declared.output;
  try {
    return { text: ctx.printer.print(type, job.resolved.inputJsonSchema) };
  } catch (err) {
    if (!(err instanceof UnprintableType)) throw err;
    return { text: `z.${io}<Definitions[${literal(job.declared.name)}]['payload']>`, fallback: err.message };
  }
}

export function emitPayloads(ctx: EmitContext): string {
  let out = header(ctx, 'Payload types of every job');
  out += `import type * as z from 'zod';\n`;
  out += importJobSet(ctx, true);
  out += `\ntype Definitions = (typeof jobs)['definitions'];\n`;

  const checks: string[] = [];
  for (const job of ctx.jobs) {
    const { name, ids } = job.declared;
    const input = write(ctx, job, 'input');
    const output = write(ctx, job, 'output');
    const rootDoc = job.resolved.inputJsonSchema.description;
    const fallbackNote = (w: WrittenType): string | undefined =>
      w.fallback === undefined ? undefined : `Written as the zod type because it has no plain form: ${w.fallback}.`;

    out += `\n${tsdoc([
      `What \`${ids.enqueue}\` accepts: the input of job \`${name}\`'s payload schema.`,
      rootDoc === undefined ? undefined : '',
      rootDoc,
      fallbackNote(input) === undefined ? undefined : '',
      fallbackNote(input),
    ])}`;
    out += `export type ${ids.input} = ${input.text};\n`;

    const same = input.fallback === undefined && output.fallback === undefined && input.text === output.text;
    out += `\n${tsdoc([
      `What the handler of job \`${name}\` receives: the payload after its schema ran (defaults filled in, transforms applied).`,
      same ? `The same as {@link ${ids.input}}: the schema has no defaults or transforms that change the type.` : undefined,
      fallbackNote(output) === undefined ? undefined : '',
      fallbackNote(output),
    ])}`;
    out += `export type ${ids.payload} = ${same ? ids.input : output.text};\n`;

    const definition = `Definitions[${literal(name)}]['payload']`;
    checks.push(`  Expect<Equal<${ids.input}, z.input<${definition}>>>,`);
    checks.push(`  Expect<Equal<${ids.payload}, z.output<${definition}>>>,`);
  }

  out += `
// The proof: each written-out type is exactly its schema's z.input / z.output. When jobs.schema.ts changes and this
// file is not regenerated, tsc fails on the line of the job that drifted: run \`jobcraft codegen\`.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

/** A compile-time check that the payload types above match the schemas; not meant to be used. */
export type PayloadTypesMatchSchemas = [
${checks.join('\n')}
];
`;
  return out;
}
