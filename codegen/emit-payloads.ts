/**
 * generated/payloads.ts: per job the payload types written out as plain TypeScript, `…Input` (what enqueue takes)
 * and `…Payload` (what the handler gets), then a compile-time proof that each equals `z.input` / `z.output` of the
 * schema, so a schema changed without regenerating fails `tsc` on the job that drifted.
 */
import { header, importJobSet, literal, tsdoc, type EmitContext, type EmitJob, type WrittenPayload, type WrittenType } from './emit-common.js';
import { HELPER_TYPES, UnprintableType, type HelperType } from './print-type.js';


function write(ctx: EmitContext, job: EmitJob, io: 'input' | 'output'): WrittenType {
  const type = io === 'input' ? job.declared.input : job.declared.output;
  const zodType = `z.${io}<Definitions[${literal(job.declared.name)}]['payload']>`;
  try {
    const exact = ctx.printer.print(type, job.resolved.inputJsonSchema, zodType);
    if (io === 'output' || !exact.helpers.has('Catchall')) return exact;
    // No object literal can be passed as zod's type of a `.catchall()` object: enqueue takes a looser one.
    const loose = ctx.printer.print(type, job.resolved.inputJsonSchema, zodType, '', { looseCatchall: true });
    return { ...loose, helpers: new Set([...exact.helpers, ...loose.helpers]), exact: exact.text };
  } catch (err) {
    if (!(err instanceof UnprintableType)) throw err;
    return { text: zodType, fallbacks: [{ path: '', reason: err.message }], helpers: new Set() };
  }
}

/** A result type written out (exactly zod's, else zod's own type: the proof compares it with `Equal`). */
function writeResult(ctx: EmitContext, type: EmitJob['declared']['input'], job: EmitJob, zodType: string): WrittenType {
  return writeExact(ctx, type, job.resolved.resultJsonSchema ?? {}, zodType);
}

/** A type written out exactly as zod's (a `.catchall()` object: zod's own type), described by `json`. */
function writeExact(ctx: EmitContext, type: EmitJob['declared']['input'], json: Parameters<EmitContext['printer']['print']>[1], zodType: string): WrittenType {
  try {
    const written = ctx.printer.print(type, json, zodType);
    if (!written.helpers.has('Catchall')) return written;
  } catch (err) {
    if (!(err instanceof UnprintableType)) throw err;
    return { text: zodType, fallbacks: [{ path: '', reason: err.message }], helpers: new Set() };
  }
  return { text: zodType, fallbacks: [], helpers: new Set() };
}

/** The TSDoc lines saying which parts are written as the zod type, and why. */
function fallbackNote(w: WrittenType): (string | undefined)[] {
  if (w.fallbacks.length === 0) return [];
  return [
    '',
    ...w.fallbacks.map((f) =>
      f.path === ''
        ? `Written as the zod type because it has no plain form: ${f.reason}.`
        : `\`${f.path}\` is written as the zod type because it has no plain form: ${f.reason}.`,
    ),
  ];
}

export function emitPayloads(ctx: EmitContext): string {
  let out = '';
  const helpers = new Set<HelperType>();

  const checks: string[] = [];
  /** Whether some job's input is looser than zod's (a `.catchall()` object), which the proof checks it accepts. */
  let loosened = false;
  for (const job of ctx.jobs) {
    const { name, ids } = job.declared;
    const input = job.written?.input ?? write(ctx, job, 'input');
    const output = job.written?.output ?? write(ctx, job, 'output');
    for (const h of [...input.helpers, ...output.helpers]) helpers.add(h);
    const rootDoc = job.resolved.inputJsonSchema.description;

    // Earlier payload versions (docs/contracts.md, "Versioned payloads"): `…InputV1`, `…PayloadV1`, … each checked
    // against its schema like the current types.
    const versions = job.declared.versions ?? [];
    const writtenVersions: { input: WrittenType; output: WrittenType }[] = [];
    versions.forEach((types, i) => {
      const k = i + 1;
      const definition = `Definitions[${literal(name)}]['versions'][${i}]['payload']`;
      const json = (job.resolved.versions[i]?.input ?? {}) as Parameters<EmitContext['printer']['print']>[1];
      const kept = job.written?.versions?.[i];
      const vInput = kept?.input ?? writeExact(ctx, types.input, json, `z.input<${definition}>`);
      const vOutput = kept?.output ?? writeExact(ctx, types.output, json, `z.output<${definition}>`);
      writtenVersions.push({ input: vInput, output: vOutput });
      for (const h of [...vInput.helpers, ...vOutput.helpers]) helpers.add(h);
      out += `\n${tsdoc([`The input of version ${k} of job \`${name}\`'s payload (an earlier version: jobs stored with it are migrated up before the handler runs).`, ...fallbackNote(vInput)])}`;
      out += `export type ${ids.input}V${k} = ${vInput.text};\n`;
      const vSame = vInput.text === vOutput.text;
      out += `\n${tsdoc([`Version ${k} of job \`${name}\`'s payload after its schema ran: what its migration to version ${k + 1} receives.`, ...fallbackNote(vOutput)])}`;
      out += `export type ${ids.payload}V${k} = ${vSame ? `${ids.input}V${k}` : vOutput.text};\n`;
      checks.push(`  Expect<Equal<${ids.input}V${k}, z.input<${definition}>>>,`);
      checks.push(`  Expect<Equal<${ids.payload}V${k}, z.output<${definition}>>>,`);
    });
    const emitVersion = job.resolved.version.emit;
    const pinned = emitVersion < job.resolved.version.current;

    const exactInput = `${ids.input}Exact`;
    if (pinned) {
      // Producers write an earlier version (emitVersion): enqueue takes its input.
      out += `\n${tsdoc([`What \`${ids.enqueue}\` accepts: the input of version ${emitVersion} of job \`${name}\`'s payload, the version its producers write (\`emitVersion\`).`])}`;
      out += `export type ${ids.input} = ${ids.input}V${emitVersion};\n`;
      checks.push(`  Expect<Equal<${ids.input}, z.input<Definitions[${literal(name)}]['versions'][${emitVersion - 1}]['payload']>>>,`);
    } else {
      out += `\n${tsdoc([
        `What \`${ids.enqueue}\` accepts: the input of job \`${name}\`'s payload schema.`,
        rootDoc === undefined ? undefined : '',
        rootDoc,
        ...fallbackNote(input),
        ...(input.exact === undefined
          ? []
          : [
              '',
              'Looser than the schema\'s input for its `.catchall()` object(s): their index signature also admits the known',
              'properties\' types, so that object literals can be passed. Extra keys are checked against the catch-all schema',
              'when the job is enqueued (`JobValidationError`), not by the compiler.',
            ]),
      ])}`;
      out += `export type ${ids.input} = ${input.text};\n`;
      if (input.exact !== undefined) {
        out += `\n${tsdoc([
          `The input of job \`${name}\`'s payload schema exactly as zod types it (\`z.input\`), which the proof below checks.`,
          `No object literal can be assigned to it (TypeScript also checks the known properties against the \`.catchall()\``,
          `index signature of zod's intersection, TS2322), hence the looser {@link ${ids.input}}.`,
        ])}`;
        out += `type ${exactInput} = ${input.exact};\n`;
      }
    }
    const same = !pinned && input.exact === undefined && input.text === output.text;
    out += `\n${tsdoc([
      `What the handler of job \`${name}\` receives: the payload after its schema ran (defaults filled in, transforms applied).`,
      same ? `The same as {@link ${ids.input}}: the schema has no defaults or transforms that change the type.` : undefined,
      ...fallbackNote(output),
    ])}`;
    out += `export type ${ids.payload} = ${same ? ids.input : output.text};\n`;

    const definition = `Definitions[${literal(name)}]['payload']`;
    if (pinned) {
      // The current input's own proof is the one above (the pinned version's).
    } else if (input.exact === undefined) checks.push(`  Expect<Equal<${ids.input}, z.input<${definition}>>>,`);
    else {
      loosened = true;
      checks.push(`  Expect<Equal<${exactInput}, z.input<${definition}>>>,`);
      checks.push(`  Expect<Accepts<${ids.input}, ${exactInput}>>,`);
    }
    checks.push(`  Expect<Equal<${ids.payload}, z.output<${definition}>>>,`);

    const result = job.declared.result;
    let writtenResult: WrittenPayload['result'];
    if (result !== undefined) {
      const resultDefinition = `Definitions[${literal(name)}]['result']`;
      writtenResult = job.written?.result ?? {
        returns: writeResult(ctx, result.input, job, `z.input<${resultDefinition}>`),
        output: writeResult(ctx, result.output, job, `z.output<${resultDefinition}>`),
      };
      const { returns, output } = writtenResult;
      for (const h of [...returns.helpers, ...output.helpers]) helpers.add(h);
      out += `\n${tsdoc([`What the handler of job \`${name}\` returns: the input of its result schema (checked by the worker, then stored).`, ...fallbackNote(returns)])}`;
      out += `export type ${ids.returns} = ${returns.text};\n`;
      out += `\n${tsdoc([`What waiting for the result of job \`${name}\` gives: the stored result after its schema ran (defaults filled in, transforms applied).`, ...fallbackNote(output)])}`;
      out += `export type ${ids.result} = ${output.text};\n`;
      checks.push(`  Expect<Equal<${ids.returns}, z.input<${resultDefinition}>>>,`);
      checks.push(`  Expect<Equal<${ids.result}, z.output<${resultDefinition}>>>,`);
    }
    ctx.onWritten?.(name, {
      input,
      output,
      ...(writtenResult === undefined ? {} : { result: writtenResult }),
      ...(writtenVersions.length === 0 ? {} : { versions: writtenVersions }),
    });
  }

  let head = header(ctx, 'Payload types of every job');
  head += `import type * as z from 'zod';\n`;
  head += importJobSet(ctx, true);
  head += `\ntype Definitions = (typeof jobs)['definitions'];\n`;
  for (const h of [...helpers].sort()) head += `\n${HELPER_TYPES[h]}`;
  out = head + out;
  out += `
// The proof: each written-out type is exactly its schema's z.input / z.output. When jobs.schema.ts changes and this
// file is not regenerated, tsc fails on the line of the job that drifted: run \`jobcraft codegen\`.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;
${loosened ? `// A loosened input (a .catchall() object) accepts every value of zod's input type.
type Accepts<Loose, Exact> = [Exact] extends [Loose] ? true : false;
` : ''}
/** A compile-time check that the payload types above match the schemas; not meant to be used. */
export type PayloadTypesMatchSchemas = [
${checks.join('\n')}
];
`;
  return out;
}
