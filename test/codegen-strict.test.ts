/**
 * The generated code compiles under every strict compiler setting a consumer may use: the flags of
 * @tsconfig/strictest (written out below, so no package is needed), NodeNext and bundler resolution,
 * `verbatimModuleSyntax`, `isolatedModules`, `noUncheckedIndexedAccess` and `skipLibCheck: false`.
 *
 * One TypeScript program per flag set, over the repository's generated/, the golden fixture's generated code
 * (which uses most zod constructs) and the zod/mini fixture's; source files are parsed once and shared between the programs. Only
 * diagnostics in generated files count: the runtime's sources and the schema files have their own checks.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const GENERATED_DIRS = [join(ROOT, 'generated'), join(ROOT, 'test', 'codegen-fixtures', 'golden', 'generated'), join(ROOT, 'test', 'codegen-fixtures', 'mini', 'generated')];
const FILES = GENERATED_DIRS.flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f)),
);

/** What a consumer's tsconfig has whatever else it sets. */
const BASE: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2023.d.ts'],
  types: ['node'],
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  skipLibCheck: true,
  noEmit: true,
};

/** @tsconfig/strictest (tsconfig/bases strictest.json), written out. */
const STRICTEST: ts.CompilerOptions = {
  strict: true,
  allowUnusedLabels: false,
  allowUnreachableCode: false,
  exactOptionalPropertyTypes: true,
  noFallthroughCasesInSwitch: true,
  noImplicitOverride: true,
  noImplicitReturns: true,
  noPropertyAccessFromIndexSignature: true,
  noUncheckedIndexedAccess: true,
  noUnusedLocals: true,
  noUnusedParameters: true,
  verbatimModuleSyntax: false,
  checkJs: true,
  esModuleInterop: true,
  skipLibCheck: true,
  forceConsistentCasingInFileNames: true,
  isolatedModules: true,
};

const FLAG_SETS: [name: string, options: ts.CompilerOptions][] = [
  // A contracts package builds the generated files with declarations: those must be writable too.
  ['@tsconfig/strictest (with declaration)', { ...STRICTEST, declaration: true, noEmit: false, emitDeclarationOnly: true }],
  ['module NodeNext', { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext }],
  ['moduleResolution bundler', { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler }],
  ['verbatimModuleSyntax', { verbatimModuleSyntax: true }],
  ['isolatedModules', { isolatedModules: true }],
  ['noUncheckedIndexedAccess', { noUncheckedIndexedAccess: true }],
  ['skipLibCheck: false', { skipLibCheck: false }],
];

/** Parsed files, shared by every program (keyed by the parse settings that can differ between them). */
const parsed = new Map<string, ts.SourceFile>();

function compile(options: ts.CompilerOptions): string[] {
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, onError, create) => {
    const format = typeof language === 'object' ? `${language.languageVersion}:${language.impliedNodeFormat ?? ''}` : String(language);
    const key = `${format}:${name}`;
    let file = parsed.get(key);
    if (file === undefined) {
      file = read(name, language, onError, create);
      if (file !== undefined) parsed.set(key, file);
    }
    return file;
  };
  // Declaration files are written nowhere: only their diagnostics matter.
  host.writeFile = () => {};
  const program = ts.createProgram({ rootNames: FILES, options, host });
  const wanted = new Set(FILES);
  const diagnostics = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
  for (const file of FILES) {
    const source = program.getSourceFile(file);
    diagnostics.push(...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source));
  }
  if (options.declaration === true) {
    diagnostics.push(...program.emit(undefined, undefined, undefined, true).diagnostics.filter((d) => d.file === undefined || wanted.has(d.file.fileName)));
  }
  // With skipLibCheck off, the declaration files the generated code reaches are checked too.
  if (options.skipLibCheck === false) {
    for (const source of program.getSourceFiles()) {
      if (source.isDeclarationFile && !program.isSourceFileDefaultLibrary(source)) diagnostics.push(...program.getSemanticDiagnostics(source));
    }
  }
  return diagnostics.map((d) => {
    const where = d.file === undefined ? '' : `${d.file.fileName.slice(ROOT.length)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: `;
    return `${where}TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}

describe('the generated code compiles under every strict compiler setting', () => {
  it('covers the three generated folders', () => {
    expect(FILES.length).toBe(15);
  });

  it.each(FLAG_SETS)('%s', (_name, flags) => {
    expect(compile({ ...BASE, ...flags })).toEqual([]);
  }, 120_000);
});
