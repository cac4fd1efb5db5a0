/**
 * How payload types are written out, for the shapes that used to come out wrong (issue #15): `.catchall()` objects,
 * a recursive field or an enum in an otherwise plain type, and union members. Generated in memory from the golden
 * fixture and compiled as generated, so each case checks both the text and that TypeScript accepts it.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator } from '../codegen/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const GOLDEN = join(ROOT, 'test', 'codegen-fixtures', 'golden');
const OUT = join(GOLDEN, 'generated');

let payloads = '';
let diagnostics: string[] = [];

/** The exported type alias `name` as generated, up to its closing `;`. */
function typeOf(name: string): string {
  const start = payloads.indexOf(`export type ${name} = `);
  expect(start, `${name} is generated`).toBeGreaterThanOrEqual(0);
  return payloads.slice(start, payloads.indexOf(';\n\n', start) + 1);
}

/** The TSDoc comment right above `export type name`. */
function docOf(name: string): string {
  const at = payloads.indexOf(`export type ${name} = `);
  return payloads.slice(payloads.lastIndexOf('/**', at), at);
}

beforeAll(async () => {
  const { files } = await new Generator().generate({ schema: join(GOLDEN, 'jobs.schema.ts'), out: OUT });
  payloads = files.find((f) => f.path === 'payloads.ts')?.contents ?? '';
  // Compile the fresh payloads.ts in place of the committed one, with the repository's own settings.
  const file = join(OUT, 'payloads.ts');
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, onError) => (name === file ? ts.createSourceFile(name, payloads, language) : read(name, language, onError));
  const program = ts.createProgram({ rootNames: [file], options, host });
  const source = program.getSourceFile(file);
  diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map(
    (d) => `${source?.getLineAndCharacterOfPosition(d.start ?? 0).line ?? -1}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`,
  );
}, 120_000);

describe('payload types as written out', () => {
  it('compile, and each equals its schema’s z.input / z.output (the proof at the end of the file)', () => {
    expect(diagnostics).toEqual([]);
  });

  it('.catchall(): known properties that do not fit the index signature are written as zod computes them', () => {
    const exact = [
      'Catchall<{',
      '  ts: string;',
      '  max_users?: number;',
      '  counts: {',
      '    [key: string]: number;',
      '    total: number;',
      '  };',
      '  labels: Catchall<{',
      '    id: number;',
      '  }, string>;',
      '}, number>;',
    ].join('\n');
    // zod's input type (kept for the proof) and the handler's payload type.
    expect(payloads).toContain(`\ntype CatchallShapesInputExact = ${exact}\n`);
    expect(typeOf('CatchallShapesPayload')).toBe(`export type CatchallShapesPayload = ${exact}`);
    expect(payloads).toContain('\ntype Catchall<Known, Rest> = ');
    expect(payloads).toContain('  Expect<Equal<CatchallShapesInputExact, z.input<Definitions[\'catchallShapes\'][\'payload\']>>>,\n');
    expect(payloads).toContain('  Expect<Accepts<CatchallShapesInput, CatchallShapesInputExact>>,\n');
  });

  it('.catchall(): what enqueue takes is loosened so that object literals can be passed, and says so', () => {
    expect(typeOf('CatchallShapesInput')).toBe(
      [
        'export type CatchallShapesInput = {',
        '  [key: string]: number | string | {',
        '    [key: string]: number;',
        '    total: number;',
        '  } | {',
        '    [key: string]: string | number;',
        '    id: number;',
        '  } | undefined;',
        '  ts: string;',
        '  max_users?: number;',
        '  counts: {',
        '    [key: string]: number;',
        '    total: number;',
        '  };',
        '  labels: {',
        '    [key: string]: string | number;',
        '    id: number;',
        '  };',
        '};',
      ].join('\n'),
    );
    expect(docOf('CatchallShapesInput')).toContain('Extra keys are checked against the catch-all schema');
  });

  it('a recursive field or an enum falls back alone; the rest of the type is written out', () => {
    expect(typeOf('MixedShapesInput')).toContain(
      [
        "  plan: z.input<Definitions['mixedShapes']['payload']>['plan'];",
        '  /** A category and its subcategories */',
        '  tree: {',
        '    name: string;',
        "    subcategories: z.input<Definitions['mixedShapes']['payload']>['tree']['subcategories'];",
        '  };',
      ].join('\n'),
    );
    expect(typeOf('RecursiveTreePayload')).toContain("subcategories: z.output<Definitions['recursiveTree']['payload']>['root']['subcategories'];");
  });

  it('the fallback note names the field, and the enum rather than one of its members', () => {
    const doc = docOf('MixedShapesInput');
    expect(doc).toContain('`plan` is written as the zod type because it has no plain form: it uses the enum Plan.');
    expect(doc).toContain('`tree.subcategories` is written as the zod type because it has no plain form: it is recursive.');
    expect(doc).not.toContain('Plan.Free');
  });

  it('union members list their properties in schema order, with their descriptions', () => {
    expect(typeOf('MixedShapesInput')).toContain(
      [
        '  event: {',
        '    type: string;',
        '    /** When it happened */',
        '    at?: number;',
        '    source: string;',
        '  } | {',
        '    code: number;',
        '    reason?: string;',
        '    retry: boolean;',
        '  };',
      ].join('\n'),
    );
  });
});
