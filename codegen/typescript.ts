/**
 * The TypeScript compiler codegen type-checks with: the one bundled in ts-morph (`@ts-morph/common`), loaded with
 * `require` rather than through ts-morph's ES module entry, and with a V8 code cache.
 *
 * Why: start-up is most of a codegen run. Importing ts-morph as an ES module had Node lex its CommonJS sources for
 * named exports and load ts-morph's own wrapper (4 MB besides the compiler), about 150 ms; codegen uses only the
 * compiler API. And compiling the compiler's 9 MB of JavaScript, then each of its functions as the checker first
 * runs it, is paid again by every process: the code cache (V8's compiled code of the script, written after a run
 * into the system's temporary folder, keyed by the compiler file, its size and time, and the Node version) lets the
 * next process skip most of it. A cache V8 rejects (another V8) is rewritten; any error with it only costs the time
 * it would have saved. `JOBCRAFT_CODEGEN_CODE_CACHE=0` turns it off.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';
import type { ts as Ts } from 'ts-morph';

/** Where the compiler is: `@ts-morph/common`'s bundled TypeScript, resolved from ts-morph (whose dependency it is). */
function compilerPath(): string {
  const require = createRequire(import.meta.url);
  return createRequire(require.resolve('ts-morph')).resolve('@ts-morph/common/dist/typescript.js');
}

function cacheFile(path: string): string | undefined {
  if (process.env.JOBCRAFT_CODEGEN_CODE_CACHE === '0') return undefined;
  try {
    const stat = statSync(path);
    const key = createHash('sha256').update(`${path}\0${stat.size}\0${stat.mtimeMs}\0${process.version}\0${process.arch}`).digest('hex').slice(0, 24);
    const user = typeof process.getuid === 'function' ? String(process.getuid()) : 'user';
    return join(tmpdir(), `jobcraft-codegen-cache-${user}`, `${basename(path, '.js')}-${key}.bin`);
  } catch {
    return undefined;
  }
}

/** Cache writers of the scripts loaded without a usable cache. */
const unsaved: (() => void)[] = [];

/**
 * Loads the CommonJS module at `path` as `require` would (and into require's cache, so its dependants get this
 * instance), compiling it with the code cache when there is one.
 */
function loadCommonJs(path: string): unknown {
  const cache = cacheFile(path);
  let cachedData: Buffer | undefined;
  if (cache !== undefined) {
    try {
      cachedData = readFileSync(cache);
    } catch {
      cachedData = undefined;
    }
  }
  const wrapper = (Module as unknown as { wrap(source: string): string }).wrap(readFileSync(path, 'utf8'));
  const script = new Script(wrapper, { filename: path, ...(cachedData === undefined ? {} : { cachedData }) });
  const compiled = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;
  const module = new Module(path);
  module.filename = path;
  module.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(path));
  const require = createRequire(path);
  require.cache[path] = module;
  compiled.call(module.exports, module.exports, require, module, path, dirname(path));
  module.loaded = true;
  if (cache !== undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
    unsaved.push(() => {
      const data = script.createCachedData();
      mkdirSync(dirname(cache), { recursive: true });
      const temporary = `${cache}.${process.pid}.tmp`;
      writeFileSync(temporary, data);
      renameSync(temporary, cache);
    });
  }
  return module.exports;
}

const path = compilerPath();

/** The compiler API (TypeScript as bundled in ts-morph). */
export const ts = loadCommonJs(path) as typeof Ts;

let libFiles: ReadonlyMap<string, string> | undefined;

/**
 * The standard library's declaration files (`lib.es2023.d.ts`, …) by name: ts-morph bundles them inside
 * `@ts-morph/common` rather than beside its compiler, so they are read from there (which `require`s the compiler
 * loaded above, not a second copy).
 */
export function standardLibraryFiles(): ReadonlyMap<string, string> {
  if (libFiles === undefined) {
    const common = loadCommonJs(join(dirname(path), 'ts-morph-common.js')) as { getLibFiles(): readonly { fileName: string; text: string }[] };
    libFiles = new Map(common.getLibFiles().map((f) => [f.fileName, f.text]));
  }
  return libFiles;
}

/** Writes the code cache of every script that had none, for the next process; call once the compiler did its work. */
export function saveCompilerCache(): void {
  for (const save of unsaved.splice(0)) {
    try {
      save();
    } catch {
      // The cache only saves time.
    }
  }
}

// The compiler's types, under the same name as the value, as `import { ts } from 'ts-morph'` gave them.
export declare namespace ts {
  type BigIntLiteralType = Ts.BigIntLiteralType;
  type CallExpression = Ts.CallExpression;
  type CompilerHost = Ts.CompilerHost;
  type CompilerOptions = Ts.CompilerOptions;
  type CreateSourceFileOptions = Ts.CreateSourceFileOptions;
  type Declaration = Ts.Declaration;
  type Diagnostic = Ts.Diagnostic;
  type Expression = Ts.Expression;
  type Node = Ts.Node;
  type ObjectLiteralElementLike = Ts.ObjectLiteralElementLike;
  type ObjectLiteralExpression = Ts.ObjectLiteralExpression;
  type ObjectType = Ts.ObjectType;
  type Program = Ts.Program;
  type PropertyName = Ts.PropertyName;
  type ScriptTarget = Ts.ScriptTarget;
  type SourceFile = Ts.SourceFile;
  type StringLiteral = Ts.StringLiteral;
  type Symbol = Ts.Symbol;
  type TupleTypeReference = Ts.TupleTypeReference;
  type Type = Ts.Type;
  type TypeChecker = Ts.TypeChecker;
  type TypeReference = Ts.TypeReference;
}
