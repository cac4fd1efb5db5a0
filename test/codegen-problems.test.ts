/**
 * Codegen's one problem type: whichever step finds a problem (syntax, structure, types, running the schema file),
 * it is thrown as a CodegenError whose problems each carry file, line, column, the job (when one) and the message.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodegenError, Generator, type Problem, type ProblemStage } from '../codegen/index.js';

const BAD = fileURLToPath(new URL('./codegen-fixtures/bad/', import.meta.url));
const generator = new Generator();
const out = mkdtempSync(join(tmpdir(), 'jobcraft-problems-'));

beforeAll(() => generator.prepare(readdirSync(BAD).filter((f) => f.endsWith('.ts')).map((f) => join(BAD, f))));
afterAll(() => rmSync(out, { recursive: true, force: true }));

async function problemsOf(name: string): Promise<{ stage: ProblemStage; problems: readonly Problem[] }> {
  const err: unknown = await generator.generate({ schema: join(BAD, `${name}.schema.ts`), out }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CodegenError);
  const { stage, problems } = err as CodegenError;
  return { stage, problems };
}

describe('every codegen problem is one located problem', () => {
  it.each<[name: string, stage: ProblemStage, problem: Problem]>([
    ['syntax-error', 'syntax', { file: join(BAD, 'syntax-error.schema.ts'), line: 8, column: 5, message: "TS1005: ',' expected." }],
    [
      'duplicate-name',
      'structure',
      {
        file: join(BAD, 'duplicate-name.schema.ts'),
        line: 7,
        column: 3,
        job: 'sendEmail',
        message: 'duplicate job name "sendEmail" (first declared at 5:3): job names must be unique',
      },
    ],
    [
      'no-define-jobs',
      'structure',
      {
        file: join(BAD, 'no-define-jobs.schema.ts'),
        line: 1,
        column: 1,
        message: 'no defineJobs({...}) call found in no-define-jobs.schema.ts: declare the jobs with defineJobs',
      },
    ],
    [
      'unresolved-import',
      'imports',
      {
        file: join(BAD, 'unresolved-import.schema.ts'),
        line: 1,
        column: 28,
        message: "cannot resolve 'jobcraft/shcema' from unresolved-import.schema.ts: TS2307: Cannot find module 'jobcraft/shcema' or its corresponding type declarations.",
      },
    ],
    [
      'versions-not-tuple',
      'structure',
      {
        file: join(BAD, 'versions-not-tuple.schema.ts'),
        line: 9,
        column: 64,
        job: 'sendEmail',
        message: 'the versions of job "sendEmail" cannot be read: it is not a list of a known length (write the list in the definition, or declare it `as const`)',
      },
    ],
    [
      'type-error',
      'types',
      { file: join(BAD, 'type-error.schema.ts'), line: 7, column: 5, message: "TS2322: Type 'string' is not assignable to type 'number'." },
    ],
  ])('%s: stage %s', async (name, stage, problem) => {
    expect(await problemsOf(name)).toEqual({ stage, problems: [problem] });
  });

  it('a definition defineJobs rejects when the file runs: the same type, with the job and the option location', async () => {
    const { stage, problems } = await problemsOf('rejected-option');
    expect(stage).toBe('run');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file: join(BAD, 'rejected-option.schema.ts'), line: 7, column: 38, job: 'sendEmail' });
    expect(problems[0]?.message).toMatch(/^defineJobs rejected the definition: job "sendEmail", option "backoff\.delay"/);
  });

  it('a file the schema file imports throws when it runs: located at the throwing line of that file, not at defineJobs', async () => {
    const { stage, problems } = await problemsOf('throws-in-import');
    expect(stage).toBe('run');
    expect(problems).toEqual([
      {
        file: join(BAD, 'helpers', 'labels.ts'),
        line: 8,
        column: 34,
        message: 'running throws-in-import.schema.ts failed: label set default is not configured',
      },
    ]);
  });

  it('payload fields that can never be sent (z.date(), z.bigint(), Map, Set, class instances, symbols, a required z.undefined()): one problem each, at the field, with the fix', async () => {
    const file = join(BAD, 'unsendable-inputs.schema.ts');
    const { stage, problems } = await problemsOf('unsendable-inputs');
    expect(stage).toBe('payload');
    const at = (line: number, column: number, job: string, what: string, rest: RegExp): unknown =>
      expect.objectContaining({ file, line, column, job, message: expect.stringMatching(new RegExp(`^job "${job}", ${what} can never be sent: its input is ${rest.source}`)) });
    expect(problems).toEqual([
      at(12, 7, 'ledger', 'field "id"', /a BigInt, .*: accept a string instead, with z\.coerce\.bigint\(\)/),
      at(13, 35, 'ledger', 'field "entries\\[\\]\\.at"', /a Date, .*z\.coerce\.date\(\) .* or z\.iso\.datetime\(\)/),
      at(14, 7, 'ledger', 'field "totals"', /a Map, .*z\.record/),
      at(15, 7, 'ledger', 'field "tags"', /a Set, .*z\.array/),
      at(16, 7, 'ledger', 'field "amount"', /a class instance, .*plain object/),
      at(17, 7, 'ledger', 'field "marker"', /a symbol, .*use a string/),
      at(18, 7, 'ledger', 'field "byDay\\[key\\]"', /a Date, /),
      at(19, 7, 'ledger', 'field "nothing"', /always undefined, .*use z\.null\(\), or \.optional\(\)/),
      at(28, 14, 'stamp', 'the payload', /a Date, /),
    ]);
  });
});

describe('an import the compiler cannot resolve is named, with the compiler\'s reason (not "no defineJobs call")', () => {
  const ROOT = fileURLToPath(new URL('..', import.meta.url));
  const SCHEMA = "import { defineJobs } from 'jobcraft/schema';\nimport * as z from 'zod';\n\nexport const jobs = defineJobs({\n  ping: { payload: z.object({ at: z.number() }) },\n});\n";

  /** A project folder outside the repository (no tsconfig or node_modules above it) holding `files`. */
  function project(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'jobcraft-resolve-'));
    for (const [name, contents] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), contents);
    }
    return dir;
  }

  async function problemsIn(dir: string): Promise<CodegenError> {
    try {
      const err: unknown = await new Generator().generate({ schema: join(dir, 'jobs.schema.ts'), out: join(dir, 'generated') }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CodegenError);
      return err as CodegenError;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('jobcraft (and zod) not installed: one problem per import, at its specifier', async () => {
    const dir = project({ 'jobs.schema.ts': SCHEMA });
    const { stage, problems } = await problemsIn(dir);
    expect(stage).toBe('imports');
    expect(problems).toEqual([
      {
        file: join(dir, 'jobs.schema.ts'),
        line: 1,
        column: 28,
        message: "cannot resolve 'jobcraft/schema' from jobs.schema.ts: TS2307: Cannot find module 'jobcraft/schema' or its corresponding type declarations.",
      },
      {
        file: join(dir, 'jobs.schema.ts'),
        line: 2,
        column: 20,
        message: "cannot resolve 'zod' from jobs.schema.ts: TS2307: Cannot find module 'zod' or its corresponding type declarations.",
      },
    ]);
  });

  it('moduleResolution node10, which does not read the package\'s exports: the compiler says so', async () => {
    const dir = project({
      'jobs.schema.ts': SCHEMA,
      'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'commonjs', moduleResolution: 'node10', strict: true, skipLibCheck: true } }),
      // jobcraft's layout: the subpath exists only in `exports`.
      'node_modules/jobcraft/package.json': JSON.stringify({ name: 'jobcraft', exports: { './schema': { types: './dist/schema.d.ts', default: './dist/schema.js' } } }),
      'node_modules/jobcraft/dist/schema.d.ts': 'export declare function defineJobs<T>(definitions: T): T;\n',
      'node_modules/jobcraft/dist/schema.js': 'export function defineJobs(definitions) { return definitions; }\n',
    });
    symlinkSync(join(ROOT, 'node_modules', 'zod'), join(dir, 'node_modules', 'zod'), 'dir');
    const { stage, problems } = await problemsIn(dir);
    expect(stage).toBe('imports');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file: join(dir, 'jobs.schema.ts'), line: 1, column: 28 });
    expect(problems[0]?.message).toMatch(
      /^cannot resolve 'jobcraft\/schema' from jobs\.schema\.ts: TS2307: Cannot find module 'jobcraft\/schema' .*\n.*There are types at '.*schema\.d\.ts', but this result could not be resolved under your current 'moduleResolution' setting/s,
    );
  });
});
