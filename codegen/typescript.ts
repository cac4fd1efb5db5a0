/**
 * The TypeScript compiler codegen type-checks with: the one bundled in ts-morph (`@ts-morph/common`), loaded with
 * `require` rather than through ts-morph's ES module entry, and with a V8 code cache; and the standard library's
 * declaration files, kept in the same cache folder (see {@link standardLibraryFiles}).
 *
 * Why: start-up is most of a codegen run. Importing ts-morph as an ES module had Node lex its CommonJS sources for
 * named exports and load ts-morph's own wrapper (4 MB besides the compiler), about 150 ms; codegen uses only the
 * compiler API. And compiling the compiler's 9 MB of JavaScript, then each of its functions as the checker first
 * runs it, is paid again by every process: the code cache (V8's compiled code of the script, written after a run
 * into the system's temporary folder, keyed by the compiler file, its size and time, and the Node version) lets the
 * next process skip most of it. A cache V8 rejects (another V8) is rewritten; any error with it only costs the time
 * it would have saved. `JOBCRAFT_CODEGEN_CODE_CACHE=0` turns it off.
 *
 * V8 does not check the code it deserializes (a damaged cache file of the right length aborts the process with a
 * fatal error, and a crafted one would run as the compiler), so each file starts with the SHA-256 of its data,
 * checked before V8 sees it, and a cache is used only in a folder of this user that no one else can write to.
 *
 * Every compiler install or Node version has a key of its own, so the folder would grow by ~7 MB a version: a file
 * is touched when used, and when a process writes its cache it deletes all but the files it uses and the
 * {@link KEEP_OTHERS} used most recently (another project's compiler, say), see {@link pruneCache}.
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
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

/** The cache file of what is kept for the script at `path`: its code cache, or (`kind` `libs`) the library texts it holds. */
function cacheFile(path: string, kind: 'code' | 'libs' = 'code'): string | undefined {
  if (process.env.JOBCRAFT_CODEGEN_CODE_CACHE === '0') return undefined;
  try {
    const stat = statSync(path);
    const key = createHash('sha256').update(`${path}\0${stat.size}\0${stat.mtimeMs}\0${process.version}\0${process.arch}`).digest('hex').slice(0, 24);
    const user = typeof process.getuid === 'function' ? String(process.getuid()) : 'user';
    return join(tmpdir(), `jobcraft-codegen-cache-${user}`, `${basename(path, '.js')}${kind === 'libs' ? '-libs' : ''}-${key}.bin`);
  } catch {
    return undefined;
  }
}

/** Length of the SHA-256 digest that starts every cache file. */
const DIGEST_BYTES = 32;

function digest(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

/**
 * Whether `folder` is a directory of this user that no one else can write to (so its files are this user's own);
 * with `create`, makes it (mode 0700) first when missing.
 */
function ownFolder(folder: string, create: boolean): boolean {
  if (create) mkdirSync(folder, { recursive: true, mode: 0o700 });
  try {
    const stat = lstatSync(folder);
    const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
    return stat.isDirectory() && (uid === undefined || (stat.uid === uid && (stat.mode & 0o022) === 0));
  } catch {
    return false;
  }
}

/** The cached data of a cache file, when its digest matches; otherwise undefined. */
function readCache(cache: string): Buffer | undefined {
  if (!ownFolder(dirname(cache), false)) return undefined;
  try {
    const file = readFileSync(cache);
    const data = file.subarray(DIGEST_BYTES);
    return file.length > DIGEST_BYTES && digest(data).equals(file.subarray(0, DIGEST_BYTES)) ? data : undefined;
  } catch {
    return undefined;
  }
}

/** Cache files besides this process's own that a write leaves in the folder: those of two other installs. */
export const KEEP_OTHERS = 4;

/** Leftovers of a write that never finished (a process killed mid-write) are removed after this long. */
const STALE_TEMPORARY_MS = 60 * 60 * 1000;

/** What a cache file is called (`typescript-<key>.bin`), and its temporary file while written. */
const CACHE_NAME = /^[\w.-]+-[0-9a-f]{24}\.bin$/;
const TEMPORARY_NAME = /^[\w.-]+-[0-9a-f]{24}\.bin\.\d+\.tmp$/;

/** The cache files this process uses (read or wrote): never pruned by it. */
const inUse = new Set<string>();

/**
 * Deletes from the cache `folder` every cache file but those in `keep` and the `others` used most recently (by
 * modification time, which a use touches), and temporary files older than an hour. Only names the cache writes
 * are looked at; any error leaves the file alone, since the cache only saves time.
 */
export function pruneCache(folder: string, keep: ReadonlySet<string>, others = KEEP_OTHERS, now = Date.now()): void {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return;
  }
  const candidates: { path: string; mtimeMs: number }[] = [];
  for (const name of names) {
    const path = join(folder, name);
    if (keep.has(path)) continue;
    const temporary = TEMPORARY_NAME.test(name);
    if (!temporary && !CACHE_NAME.test(name)) continue;
    try {
      const stat = lstatSync(path);
      if (!stat.isFile()) continue;
      if (temporary) {
        if (now - stat.mtimeMs > STALE_TEMPORARY_MS) unlinkSync(path);
      } else candidates.push({ path, mtimeMs: stat.mtimeMs });
    } catch {
      // Gone already, or not ours to delete.
    }
  }
  candidates.sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const { path } of candidates.slice(others)) {
    try {
      unlinkSync(path);
    } catch {
      // As above.
    }
  }
}

/** Marks a cache file used now (its modification time), so that pruning keeps the files still in use. */
function touch(cache: string): void {
  try {
    const now = new Date();
    utimesSync(cache, now, now);
  } catch {
    // The cache only saves time.
  }
}

/** Cache writers of the scripts loaded without a usable cache. */
const unsaved: (() => void)[] = [];

/** Writes `data` (after its digest) as the cache file `cache`, then prunes the folder. */
function writeCache(cache: string, data: Uint8Array): void {
  if (!ownFolder(dirname(cache), true)) return;
  const temporary = `${cache}.${process.pid}.tmp`;
  writeFileSync(temporary, Buffer.concat([digest(data), data]), { mode: 0o600 });
  renameSync(temporary, cache);
  pruneCache(dirname(cache), inUse);
}

/**
 * Loads the CommonJS module at `path` as `require` would (and into require's cache, so its dependants get this
 * instance), compiling it with the code cache when there is one.
 */
function loadCommonJs(path: string, codeCache = true): unknown {
  const cache = codeCache ? cacheFile(path) : undefined;
  const cachedData = cache === undefined ? undefined : readCache(cache);
  if (cache !== undefined) inUse.add(cache);
  if (cachedData !== undefined && cache !== undefined) touch(cache);
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
    unsaved.push(() => writeCache(cache, script.createCachedData()));
  }
  return module.exports;
}

const path = compilerPath();

/** The compiler API (TypeScript as bundled in ts-morph). */
export const ts = loadCommonJs(path) as typeof Ts;

let libFiles: ReadonlyMap<string, string> | undefined;

/** The library texts of a cache file's data (JSON, `[fileName, text][]`), or undefined when it is not that. */
function parseLibFiles(data: Buffer): Map<string, string> | undefined {
  try {
    const entries = JSON.parse(data.toString('utf8')) as unknown;
    if (!Array.isArray(entries) || !entries.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && typeof e[1] === 'string')) return undefined;
    const files = new Map(entries as [string, string][]);
    // Every target's library starts from these two; without them every type would differ.
    return files.has('lib.d.ts') && files.has('lib.es5.d.ts') ? files : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The standard library's declaration files (`lib.es2023.d.ts`, …) by name: ts-morph bundles them inside
 * `@ts-morph/common` rather than beside its compiler, as string literals of ts-morph-common.js (3 MB, which
 * `require`s the compiler loaded above, not a second copy, and three packages more). Loading that file costs ~65 ms
 * a process, so its texts are kept in the cache folder too (as JSON after their SHA-256, like a code cache): reading
 * them back costs ~20 ms. ts-morph-common.js is loaded only when they are not there, without a code cache of its own.
 */
export function standardLibraryFiles(): ReadonlyMap<string, string> {
  if (libFiles === undefined) {
    const commonPath = join(dirname(path), 'ts-morph-common.js');
    const cache = cacheFile(commonPath, 'libs');
    const cached = cache === undefined ? undefined : readCache(cache);
    libFiles = cached === undefined ? undefined : parseLibFiles(cached);
    if (cache !== undefined) inUse.add(cache);
    if (libFiles !== undefined && cache !== undefined) touch(cache);
    if (libFiles === undefined) {
      const common = loadCommonJs(commonPath, false) as { getLibFiles(): readonly { fileName: string; text: string }[] };
      const entries = common.getLibFiles().map((f): [string, string] => [f.fileName, f.text]);
      libFiles = new Map(entries);
      if (cache !== undefined) unsaved.push(() => writeCache(cache, Buffer.from(JSON.stringify(entries))));
    }
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
  type JSDocParsingMode = Ts.JSDocParsingMode;
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
