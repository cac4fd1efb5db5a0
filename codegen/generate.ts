/**
 * The generator: reads the schema file (read-schema.ts), runs it (load-schema.ts) and emits the files of
 * generated/. One {@link Generator} keeps its TypeScript projects between runs, so --watch and the tests pay for
 * loading the compiler and the libraries' types once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { emitClient, emitConfig } from './emit-client.js';
import type { EmitContext, EmitJob, WrittenPayload } from './emit-common.js';
import { blankOut, lineAndColumn, moveLocation, sliceJobMap, type JobMapSlices } from './incremental.js';
import { emitManifest } from './emit-manifest.js';
import { emitPayloads } from './emit-payloads.js';
import { emitIndex, emitWorker } from './emit-worker.js';
import { takeSchemaLoad, type LoadedJob } from './load-schema.js';
import { TypePrinter } from './print-type.js';
import { CronRuleNotLoaded, loadCronRule } from './cron.js';
import { CodegenError, UsageError } from './problems.js';
import { readSchema, type DeclaredJob, type DeclaredSchema } from './read-schema.js';
import { saveCompilerCache, standardLibraryFiles, ts } from './typescript.js';

/** Where to read and where to write. */
export interface GenerateOptions {
  /** The schema file. Default `jobs.schema.ts`. */
  readonly schema?: string;
  /** The output folder. Default `generated`. */
  readonly out?: string;
  /**
   * How the generated files import the schema module (the job set), when not by a relative path to the schema file:
   * a package specifier such as `@acme/contracts`, for code generated in one package from a schema file in another
   * (a monorepo). The module must export the job set under the name the schema file exports it. Default: the
   * relative path from the output folder (`../jobs.schema.js`).
   */
  readonly schemaImport?: string;
}

/** Why `specifier` cannot be written into an import, or `undefined` when it can. */
export function schemaImportProblem(specifier: string): string | undefined {
  if (specifier.trim() === '') return '--schema-import needs a module specifier, such as @acme/contracts';
  if (/[\s'"`\\]/.test(specifier)) return `--schema-import ${JSON.stringify(specifier)} is not a module specifier: no spaces, quotes or backslashes`;
  if (/\.[mc]?tsx?$/.test(specifier)) return `--schema-import ${specifier} names a TypeScript file: write the specifier the built code imports (a package name, or a path ending in .js)`;
  return undefined;
}

/** A file to write, by its path inside the output folder. */
export interface GeneratedFile {
  readonly path: string;
  readonly contents: string;
}

export interface GenerateResult {
  /** Absolute path of the output folder. */
  readonly outDir: string;
  readonly files: readonly GeneratedFile[];
  /** Local files the schema depends on (itself included): what --watch watches. */
  readonly inputs: readonly string[];
  /** Absolute path of the schema file. */
  readonly schemaFile: string;
  /** What running the schema file said of each job, in declaration order: what `jobcraft lock` writes down. */
  readonly jobs: readonly LoadedJob[];
}

const DEFAULT_COMPILER_OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  skipLibCheck: true,
};

/** A module specifier usable from `fromDir` for the TypeScript file `file`: `../jobs.schema.js`. */
export function moduleSpecifier(fromDir: string, file: string): string {
  let rel = relative(fromDir, file).split('\\').join('/');
  if (!rel.startsWith('.')) rel = `./${rel}`;
  return rel.replace(/\.([mc]?)tsx?$/, (_m, kind: string) => `.${kind}js`);
}

function posixRelative(fromDir: string, file: string): string {
  return relative(fromDir, file).split('\\').join('/');
}

/** With JOBCRAFT_CODEGEN_TIMINGS=1, prints where a run's time went (wall and CPU of the process). */
export class PhaseTimer {
  private readonly enabled = process.env.JOBCRAFT_CODEGEN_TIMINGS === '1';
  private wall = performance.now();
  private cpu = process.cpuUsage();
  /** The first phase: from the process's start (`performance.timeOrigin`) to this run's. */
  private readonly phases: string[] = [`start-up ${Math.round(this.wall)} ms (cpu ${Math.round((this.cpu.user + this.cpu.system) / 1000)} ms)`];

  mark(phase: string): void {
    if (!this.enabled) return;
    const cpu = process.cpuUsage(this.cpu);
    this.phases.push(`${phase} ${Math.round(performance.now() - this.wall)} ms (cpu ${Math.round((cpu.user + cpu.system) / 1000)} ms)`);
    this.wall = performance.now();
    this.cpu = process.cpuUsage();
  }

  report(): void {
    if (!this.enabled) return;
    const total = process.cpuUsage();
    const cpuMs = Math.round((total.user + total.system) / 1000);
    const sinceStart = Math.round(performance.now());
    console.error(`codegen timings: ${this.phases.join(', ')}; process cpu ${cpuMs} ms, wall ${sinceStart} ms since start`);
  }
}

/**
 * Which compiler options a project uses. `lean` is the tsconfig's, minus its `types` (ambient packages such as
 * @types/node, 2 MB of declarations a schema file rarely needs) and, when it sets no `lib`, minus the DOM library:
 * tried first; `configured` is exactly the tsconfig's,
 * used when the lean program reports a type error, so every reported error is one `tsc` would report too.
 */
type ProjectKind = 'lean' | 'configured';

/** What reading the schema file produced, with the program it was read in. */
interface Reading {
  readonly program: ts.Program;
  readonly kind: ProjectKind;
  readonly declared: DeclaredSchema;
}

/** How a {@link Generator} works. */
export interface GeneratorOptions {
  /**
   * After a successful run, check again only the jobs whose text changed, when nothing else did (see
   * incremental.ts). What --watch uses; off by default.
   */
  readonly incremental?: boolean;
}

/** What an incremental run needs of the last successful one. */
interface Snapshot {
  readonly schemaFile: string;
  readonly text: string;
  readonly kind: ProjectKind;
  readonly slices: JobMapSlices;
  /** The other local files the schema depends on, with their text then. */
  readonly others: ReadonlyMap<string, string>;
  /** By job: what was declared (its types replaced by placeholders), what was written, and {@link describedJson}. */
  readonly jobs: ReadonlyMap<string, { readonly declared: DeclaredJob; readonly written: WrittenPayload; readonly json: string }>;
}

/** A declared job with `placeholder` for each of its types (the payload's and the result's). */
function withoutTypes(declared: DeclaredJob, placeholder: ts.Type): DeclaredJob {
  const types = { input: placeholder, output: placeholder };
  return {
    ...declared,
    ...types,
    ...(declared.result === undefined ? {} : { result: types }),
    ...(declared.versions === undefined ? {} : { versions: declared.versions.map(() => types) }),
  };
}

/** The JSON Schemas a kept job's written types describe themselves with (their descriptions): the payload's, the result's and the earlier versions'. */
function describedJson(job: LoadedJob): string {
  return JSON.stringify([job.inputJsonSchema, job.resultJsonSchema, job.versions.map((v) => v.input)]);
}

/** Where the standard library's declaration files appear to the compiler (they are served from memory). */
const LIB_FOLDER = '/node_modules/typescript/lib';

function isLocal(fileName: string): boolean {
  return !/[\\/]node_modules[\\/]/.test(fileName);
}

/** How much of a file's doc comments the parser reads (see {@link SourceFileCache}). */
function docCommentParsing(fileName: string): ts.JSDocParsingMode {
  if (/\.[cm]?jsx?$/.test(fileName)) return ts.JSDocParsingMode.ParseAll;
  return isLocal(fileName) ? ts.JSDocParsingMode.ParseForTypeErrors : ts.JSDocParsingMode.ParseNone;
}

/**
 * Parsed source files shared by every program of a generator: the standard library and packages' declarations are
 * parsed once per process; a local file is parsed again only when its text changed (what --watch edits).
 *
 * Doc comments are not parsed into the tree: no type depends on them in TypeScript (only in JavaScript files, which
 * keep them), and the generator reads none. For declaration files outside the project (the standard library, zod's
 * ~250 KB) that is a quarter of the parse; local TypeScript files get what `tsc` itself parses
 * (`ParseForTypeErrors`).
 */
class SourceFileCache {
  private readonly files = new Map<string, ts.SourceFile>();

  get(fileName: string, language: ts.ScriptTarget | ts.CreateSourceFileOptions, read: () => string | undefined): ts.SourceFile | undefined {
    const format = typeof language === 'object' ? `${language.languageVersion}:${language.impliedNodeFormat ?? ''}` : String(language);
    const key = `${format}:${fileName}`;
    const cached = this.files.get(key);
    if (cached !== undefined && !isLocal(fileName)) return cached;
    const text = read();
    if (text === undefined) return undefined;
    if (cached !== undefined && cached.text === text) return cached;
    const options = { ...(typeof language === 'object' ? language : { languageVersion: language }), jsDocParsingMode: docCommentParsing(fileName) };
    const file = ts.createSourceFile(fileName, text, options, false);
    this.files.set(key, file);
    return file;
  }
}

/**
 * {@link readSchema}, loading the runtime's cron rule first when a job has a schedule (see cron.ts). The second read
 * reuses the program's checked types. A rule that cannot be loaded (a runtime without cron-parser) is a
 * {@link UsageError} naming it.
 */
async function readSchemaWithCronRule(program: ts.Program, sourceFile: ts.SourceFile, timer: PhaseTimer): Promise<DeclaredSchema> {
  try {
    return readSchema(program, sourceFile, timer);
  } catch (err) {
    if (!(err instanceof CronRuleNotLoaded)) throw err;
    timer.mark('read jobs, up to the first schedule');
    try {
      await loadCronRule();
    } catch (cause) {
      throw new UsageError(`cannot load the runtime's cron rule (checkCron from jobcraft/schema) to check a job's cron and tz options: ${cause instanceof Error ? cause.message : String(cause)}`);
    }
    timer.mark('cron rule');
    return readSchema(program, sourceFile, timer);
  }
}

/**
 * A TypeScript program over schema files, configured by one tsconfig.json (or the defaults). Each {@link program}
 * call builds a new program from the last one, so unchanged files keep their parsed and bound form.
 */
class SchemaProject {
  private readonly roots = new Set<string>();
  private last: ts.Program | undefined;
  private readonly host: ts.CompilerHost;
  /** Text to give the compiler instead of a file's own (an incremental run's blanked schema file). */
  private readonly overrides = new Map<string, string>();

  constructor(
    readonly options: ts.CompilerOptions,
    cache: SourceFileCache,
  ) {
    const host = ts.createCompilerHost(options);
    const libs = standardLibraryFiles();
    const libText = (fileName: string): string | undefined =>
      fileName.startsWith(`${LIB_FOLDER}/`) ? libs.get(fileName.slice(LIB_FOLDER.length + 1)) : undefined;
    const readFile = host.readFile.bind(host);
    const fileExists = host.fileExists.bind(host);
    host.getDefaultLibLocation = () => LIB_FOLDER;
    host.getDefaultLibFileName = (o) => `${LIB_FOLDER}/${ts.getDefaultLibFileName(o)}`;
    host.fileExists = (fileName) => (libText(fileName) !== undefined ? true : fileExists(fileName));
    host.readFile = (fileName) => libText(fileName) ?? readFile(fileName);
    host.getSourceFile = (fileName, language) => cache.get(fileName, language, () => this.overrides.get(fileName) ?? host.readFile(fileName));
    this.host = host;
  }

  has(file: string): boolean {
    return this.roots.has(file);
  }

  add(file: string): void {
    this.roots.add(file);
  }

  /** A program of the root files as they are on disk now, but for `overrides` (file name → text). */
  program(overrides: ReadonlyMap<string, string> = new Map()): ts.Program {
    this.overrides.clear();
    for (const [file, text] of overrides) this.overrides.set(file, text);
    this.last = ts.createProgram({ rootNames: [...this.roots], options: this.options, host: this.host, ...(this.last === undefined ? {} : { oldProgram: this.last }) });
    return this.last;
  }
}

export class Generator {
  private readonly projects = new Map<string, SchemaProject>();
  private readonly sourceFiles = new SourceFileCache();
  private inputs: readonly string[] = [];
  private readonly incremental: boolean;
  private snapshot: Snapshot | undefined;
  private checkedJobs: readonly string[] | undefined;

  constructor(options: GeneratorOptions = {}) {
    this.incremental = options.incremental === true;
  }

  /** The jobs the last run type-checked, when it checked only the changed ones (an incremental run); else undefined. */
  lastCheckedJobs(): readonly string[] | undefined {
    return this.checkedJobs;
  }

  /** Local files the last run depended on, known even when it failed: what --watch watches. */
  lastInputs(): readonly string[] {
    return this.inputs;
  }

  /** The project for files under `dir`: configured by the nearest tsconfig.json, holding only what the schema needs. */
  private projectFor(dir: string, kind: ProjectKind): SchemaProject {
    const config = ts.findConfigFile(dir, ts.sys.fileExists) ?? '';
    const key = `${kind}:${config}`;
    let project = this.projects.get(key);
    if (project === undefined) {
      const lean: ts.CompilerOptions = kind === 'lean' ? { types: [] } : {};
      let options: ts.CompilerOptions = { ...DEFAULT_COMPILER_OPTIONS, ...lean };
      if (config !== '') {
        // Only the options are used: listing the files the tsconfig includes (a walk of its folders, every file of
        // a large project) is skipped, the options do not depend on it.
        const parsed = ts.getParsedCommandLineOfConfigFile(config, lean, { ...ts.sys, readDirectory: () => [], onUnRecoverableConfigFileDiagnostic: () => {} });
        if (parsed !== undefined) options = parsed.options;
      }
      // Without a `lib` setting the compiler loads the target's full library, DOM included (a megabyte of
      // declarations to parse and bind); the lean program takes the same library without DOM.
      if (kind === 'lean' && options.lib === undefined && options.noLib !== true) {
        options = { ...options, lib: [ts.getDefaultLibFileName(options).replace(/\.full\.d\.ts$/, '.d.ts')] };
      }
      project = new SchemaProject({ ...options, noEmit: true }, this.sourceFiles);
      this.projects.set(key, project);
    }
    return project;
  }

  /**
   * Adds schema files to their projects up front, so that checking several of them (tests, a repository with more
   * than one schema) builds one TypeScript program instead of one per file.
   */
  prepare(schemaFiles: readonly string[]): void {
    for (const file of schemaFiles.map((f) => resolve(f))) this.projectFor(dirname(file), 'lean').add(file);
    for (const project of this.projects.values()) project.program();
  }

  /** Reads the schema file in a project of `kind`, with the files as they are on disk now. */
  private async read(schemaFile: string, kind: ProjectKind, timer: PhaseTimer): Promise<Reading> {
    const project = this.projectFor(dirname(schemaFile), kind);
    if (!project.has(schemaFile)) project.add(schemaFile);
    const program = project.program();
    const local = program
      .getSourceFiles()
      .filter((f) => isLocal(f.fileName) && !program.isSourceFileFromExternalLibrary(f))
      .map((f) => resolve(f.fileName));
    this.inputs = [...new Set([schemaFile, ...local])].sort();
    timer.mark(`${kind} project`);
    const sourceFile = program.getSourceFile(schemaFile);
    if (sourceFile === undefined) throw new UsageError(`cannot read ${schemaFile}`);
    return { program, kind, declared: await readSchemaWithCronRule(program, sourceFile, timer) };
  }

  /**
   * Reads the schema file checking only the jobs whose text changed since the last successful run, the others
   * blanked out; `undefined` when that cannot be done soundly (see incremental.ts) or found a problem (the full
   * read then reports it exactly).
   */
  private readChangedJobs(
    schemaFile: string,
    text: string,
    timer: PhaseTimer,
  ): { reading: Reading; slices: JobMapSlices; reused: Snapshot['jobs'] } | undefined {
    const last = this.snapshot;
    if (last === undefined || last.schemaFile !== schemaFile) return undefined;
    const slices = sliceJobMap(schemaFile, text);
    if (slices === undefined || slices.context !== last.slices.context || slices.jobs.length !== last.slices.jobs.length) return undefined;
    if (slices.jobs.some((job, i) => job.name !== last.slices.jobs[i]?.name)) return undefined;
    for (const [file, before] of last.others) {
      try {
        if (readFileSync(file, 'utf8') !== before) return undefined;
      } catch {
        return undefined;
      }
    }
    const unchanged = slices.jobs.filter((job, i) => job.text === last.slices.jobs[i]?.text);
    if (unchanged.length === 0 || unchanged.length === slices.jobs.length) return undefined;
    const project = this.projectFor(dirname(schemaFile), last.kind);
    if (!project.has(schemaFile)) return undefined;
    const program = project.program(new Map([[schemaFile, blankOut(text, unchanged)]]));
    timer.mark(`${last.kind} project (changed jobs only)`);
    const sourceFile = program.getSourceFile(schemaFile);
    if (sourceFile === undefined) return undefined;
    let partial: DeclaredSchema;
    try {
      partial = readSchema(program, sourceFile, timer);
    } catch {
      return undefined;
    }
    const checked = new Map(partial.jobs.map((j) => [j.name, j]));
    // A kept job's types are not read (its written types are); a type of this program stands in for them, so that
    // nothing holds on to the program they came from.
    const placeholder = program.getTypeChecker().getAnyType();
    const reused = new Map<string, Snapshot['jobs'] extends ReadonlyMap<string, infer V> ? V : never>();
    const jobs: DeclaredJob[] = [];
    for (const [i, slice] of slices.jobs.entries()) {
      const before = last.slices.jobs[i];
      const kept = last.jobs.get(slice.name);
      if (before !== undefined && before.text === slice.text && kept !== undefined) {
        const from = lineAndColumn(last.text, before.start);
        const to = lineAndColumn(text, slice.start);
        const move = <L extends DeclaredJob['location']>(l: L): L => moveLocation(l, from, to);
        const declared: DeclaredJob = {
          ...withoutTypes(kept.declared, placeholder),
          location: move(kept.declared.location),
          payloadLocation: move(kept.declared.payloadLocation),
          optionLocations: new Map([...kept.declared.optionLocations].map(([k, l]) => [k, move(l)])),
        };
        jobs.push(declared);
        reused.set(slice.name, { ...kept, declared });
      } else {
        const job = checked.get(slice.name);
        if (job === undefined) return undefined;
        jobs.push(job);
      }
    }
    return { reading: { program, kind: last.kind, declared: { ...partial, jobs } }, slices, reused };
  }

  /** Keeps what an incremental run needs of this successful one. */
  private remember(schemaFile: string, text: string, reading: Reading, jobs: readonly EmitJob[], written: ReadonlyMap<string, WrittenPayload>): void {
    this.snapshot = undefined;
    const slices = sliceJobMap(schemaFile, text);
    if (slices === undefined) return;
    const others = new Map<string, string>();
    try {
      for (const file of this.inputs) if (file !== schemaFile) others.set(file, readFileSync(file, 'utf8'));
    } catch {
      return;
    }
    const kept = new Map<string, { declared: DeclaredJob; written: WrittenPayload; json: string }>();
    const placeholder = reading.program.getTypeChecker().getAnyType();
    for (const job of jobs) {
      const w = written.get(job.declared.name);
      if (w === undefined) return;
      // Without its types, which would keep this run's program (and its checker) alive for as long as the job is kept.
      kept.set(job.declared.name, { declared: withoutTypes(job.declared, placeholder), written: w, json: describedJson(job.resolved) });
    }
    this.snapshot = { schemaFile, text, kind: reading.kind, slices, others, jobs: kept };
  }

  /** Reads and runs the schema file and returns the files to write. Throws {@link CodegenError} for a bad schema. */
  async generate(options: GenerateOptions = {}): Promise<GenerateResult> {
    const schemaFile = resolve(options.schema ?? 'jobs.schema.ts');
    const outDir = resolve(options.out ?? 'generated');
    if (!existsSync(schemaFile)) throw new UsageError(`schema file ${options.schema ?? 'jobs.schema.ts'} not found`);
    const importProblem = options.schemaImport === undefined ? undefined : schemaImportProblem(options.schemaImport);
    if (importProblem !== undefined) throw new UsageError(importProblem);
    // Start running the schema file now: it proceeds in a worker thread while the type checker reads it here.
    const load = takeSchemaLoad(schemaFile);
    const timer = new PhaseTimer();

    const fullRead = async (): Promise<Reading> => {
      try {
        return await this.read(schemaFile, 'lean', timer);
      } catch (err) {
        // The lean program leaves out the tsconfig's `types`: an import of `node:crypto` resolves only with them.
        if (!(err instanceof CodegenError && (err.stage === 'types' || err.stage === 'imports'))) throw err;
        return await this.read(schemaFile, 'configured', timer);
      }
    };
    const text = this.incremental ? readFileSync(schemaFile, 'utf8') : '';
    let reading: Reading;
    let loaded: ReadonlyMap<string, LoadedJob>;
    let reused: Snapshot['jobs'] = new Map();
    try {
      this.checkedJobs = undefined;
      const changedOnly = this.incremental ? this.readChangedJobs(schemaFile, text, timer) : undefined;
      reading = changedOnly?.reading ?? (await fullRead());
      timer.mark('check');
      loaded = await load.jobs(reading.declared);
      timer.mark('wait for the schema run');
      // A kept job is written as before only if running the file describes it as before (its JSON Schema).
      if (changedOnly !== undefined) {
        reused = changedOnly.reused;
        const stale = [...reused].some(([name, kept]) => {
          const now = loaded.get(name);
          return now === undefined || describedJson(now) !== kept.json;
        });
        if (stale) {
          reading = await fullRead();
          reused = new Map();
        } else {
          this.checkedJobs = reading.declared.jobs.map((j) => j.name).filter((name) => !reused.has(name));
        }
      }
    } catch (err) {
      load.cancel();
      throw err;
    }
    const { program, declared } = reading;

    // Schema files may import defineJobs from the light entry point (`jobcraft/schema`, `src/schema.js`); the
    // generated code needs the full runtime beside it (`jobcraft`, `src/index.js`).
    const runtimeOf = (specifier: string): string =>
      specifier === 'jobcraft/schema' ? 'jobcraft' : specifier.replace(/(^|\/)schema(\.[cm]?[jt]s)?$/, '$1index$2');
    const written = declared.runtimeSpecifier;
    const runtime = written.startsWith('.')
      ? moduleSpecifier(outDir, resolve(dirname(schemaFile), runtimeOf(written)))
      : runtimeOf(written);
    const jobs: EmitJob[] = declared.jobs.map((d) => {
      const resolved = loaded.get(d.name);
      if (resolved === undefined) throw new Error(`internal: job ${d.name} was not loaded`);
      const kept = reused.get(d.name);
      return kept === undefined ? { declared: d, resolved } : { declared: d, resolved, written: kept.written };
    });
    const writtenTypes = new Map<string, WrittenPayload>();
    const ctx: EmitContext = {
      jobs,
      printer: new TypePrinter(program.getTypeChecker(), program, program.getCompilerOptions().exactOptionalPropertyTypes === true),
      schemaSpecifier: options.schemaImport ?? moduleSpecifier(outDir, schemaFile),
      schemaPath: posixRelative(outDir, schemaFile),
      exportName: declared.exportName,
      runtimeSpecifier: runtime,
      onWritten: (job, w) => writtenTypes.set(job, w),
    };
    const files: GeneratedFile[] = [
      { path: 'payloads.ts', contents: emitPayloads(ctx) },
      { path: 'config.ts', contents: emitConfig(ctx) },
      // After payloads.ts, which wrote (into writtenTypes) which jobs' enqueue input is looser than the schema's.
      { path: 'client.ts', contents: emitClient(ctx, new Set([...writtenTypes].filter(([, w]) => w.input.exact !== undefined).map(([job]) => job))) },
      { path: 'worker.ts', contents: emitWorker(ctx) },
      { path: 'index.ts', contents: emitIndex(ctx) },
      { path: 'jobs.manifest.json', contents: emitManifest(ctx) },
    ];
    timer.mark('emit');
    if (this.incremental) this.remember(schemaFile, text, reading, jobs, writtenTypes);
    saveCompilerCache();
    timer.report();
    return { outDir, files, inputs: this.inputs, schemaFile, jobs: jobs.map((j) => j.resolved) };
  }
}
