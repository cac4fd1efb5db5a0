/**
 * Runs the type tests of test/codegen-types.ts, test/types/typed-api.ts, test/types/results-api.ts and test/types/chains-api.ts through the TypeScript compiler twice: as written it must compile
 * (so the correct calls compile and every `@ts-expect-error` is needed), and with the directives removed each marked
 * line, and no other, must fail with the error code its comment names.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FILES = [
  join(ROOT, 'test', 'codegen-types.ts'),
  join(ROOT, 'test', 'types', 'typed-api.ts'),
  join(ROOT, 'test', 'types', 'results-api.ts'),
  join(ROOT, 'test', 'types', 'chains-api.ts'),
  join(ROOT, 'test', 'types', 'versions-api.ts'),
];

function compilerOptions(): ts.CompilerOptions {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (config === undefined) throw new Error('cannot read tsconfig.json');
  return { ...config.options, noEmit: true };
}

/** Diagnostics of `FILE` when its text is `text`, as `line: TScode message`. */
function diagnostics(FILE: string, text: string, options: ts.CompilerOptions, oldProgram?: ts.Program): { program: ts.Program; found: Map<number, string[]> } {
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, onError) =>
    name === FILE ? ts.createSourceFile(name, text, language) : read(name, language, onError);
  const program = ts.createProgram({ rootNames: [FILE], options, host, oldProgram });
  const source = program.getSourceFile(FILE);
  const found = new Map<number, string[]>();
  for (const d of [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]) {
    const line = source?.getLineAndCharacterOfPosition(d.start ?? 0).line ?? -1;
    found.set(line + 1, [...(found.get(line + 1) ?? []), `TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`]);
  }
  return { program, found };
}

describe('type tests of the generated code and of the typed API', () => {
  for (const FILE of FILES) {
    it(`${FILE.slice(ROOT.length)}: correct calls compile; each marked line fails with its error code, and nothing else fails`, () => {
      const text = readFileSync(FILE, 'utf8');
      const options = compilerOptions();
      const asWritten = diagnostics(FILE, text, options);
      expect([...asWritten.found.values()].flat()).toEqual([]);

      const lines = text.split('\n');
      // A bare directive is satisfied by any error at all: every one must name its code.
      expect(lines.filter((l) => /^\s*\/\/ @ts-expect-error/.test(l) && !/@ts-expect-error -- TS\d+ /.test(l))).toEqual([]);
      const expected = new Map<number, string>();
      lines.forEach((line, i) => {
        const m = /\/\/ @ts-expect-error -- (TS\d+) (.*)$/.exec(line);
        if (m !== null) expected.set(i + 2, `${m[1]} (${m[2]})`);
      });
      expect(expected.size).toBeGreaterThanOrEqual(10);

      const stripped = lines.map((l) => l.replace('// @ts-expect-error --', '// expected error:')).join('\n');
      const { found } = diagnostics(FILE, stripped, options, asWritten.program);
      expect([...found.keys()].sort((a, b) => a - b)).toEqual([...expected.keys()].sort((a, b) => a - b));
      for (const [line, what] of expected) {
        const code = what.split(' ')[0] ?? '';
        const messages = found.get(line) ?? [];
        expect(messages.some((m) => m.startsWith(`${code} `)), `line ${line}, ${what}: got ${messages.join(' | ')}`).toBe(true);
      }
    }, 120_000);
  }
});
