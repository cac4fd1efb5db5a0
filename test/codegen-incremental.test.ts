/**
 * --watch checks only the jobs a save changed (codegen/incremental.ts): whatever the edit, an incremental run must
 * write exactly what a full run writes, report the same problems at the same places, and fall back to a full check
 * when something besides a job's own text changed.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CodegenError, Generator, type GeneratedFile } from '../codegen/index.js';

// Under bad/, which the root tsconfig leaves out: a file that changes there disturbs no tsc run.
const DIR = join(fileURLToPath(new URL('./codegen-fixtures/bad/', import.meta.url)), `.incremental-${process.pid}`);
const SCHEMA = join(DIR, 'jobs.schema.ts');
const OUT = join(DIR, 'generated');
mkdirSync(DIR, { recursive: true });
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

const source = (o: { shared?: string; a?: string; aDescription?: string; c?: string; names?: [string, string]; betaResult?: string; betaComment?: string } = {}): string => `import * as z from 'zod';
import { defineJobs } from '../../../../src/schema.js';

const Address = z.object({ ${o.shared ?? 'street: z.string()'} });
const common = { attempts: 4, backoff: { type: 'fixed', delay: '2s' } } as const;

export const jobs = defineJobs({
  ${o.names?.[0] ?? 'alpha'}: {
    description: '${o.aDescription ?? 'First.'}',
    payload: z.object({ ${o.a ?? 'id: z.string()'} }),
    queue: 'one',
  },${o.betaComment === undefined ? '' : `\n  // ${o.betaComment}`}
  beta: {
    payload: z.object({ to: Address, n: z.number().default(3) }),
    ...common,${o.betaResult === undefined ? '' : `\n    result: ${o.betaResult},`}
  },
  gamma: {
    payload: z.object({ ${o.c ?? "tags: z.array(z.string()), at: z.iso.datetime().optional()"} }),
    timeout: '30s',
  },
  ${o.names?.[1] ?? 'delta'}: { payload: z.union([z.object({ kind: z.literal('x') }), z.object({ kind: z.literal('y'), v: z.number() })]), queue: 'two' },
});
`;

const incremental = new Generator({ incremental: true });
const full = new Generator();

type Outcome = { files: readonly GeneratedFile[] } | { stage: string; problems: readonly unknown[] };
async function outcome(generator: Generator): Promise<Outcome> {
  try {
    return { files: (await generator.generate({ schema: SCHEMA, out: OUT })).files };
  } catch (err) {
    if (!(err instanceof CodegenError)) throw err;
    return { stage: err.stage, problems: err.problems };
  }
}

/** Saves `text`, runs both generators, expects the same outcome, and returns which jobs the incremental run checked. */
async function save(text: string): Promise<{ checked: readonly string[] | undefined; outcome: Outcome }> {
  writeFileSync(SCHEMA, text);
  const got = await outcome(incremental);
  expect(got).toEqual(await outcome(full));
  return { checked: incremental.lastCheckedJobs(), outcome: got };
}

describe('incremental runs (--watch)', () => {
  it('check only the edited jobs and write exactly what a full run writes; anything else gets a full check', async () => {
    expect((await save(source())).checked).toBeUndefined();

    // One job's payload, on a new line: the jobs below it move down; only alpha is checked.
    expect((await save(source({ a: 'id: z.string(),\n      note: z.string().max(20).optional()' }))).checked).toEqual(['alpha']);
    // Its description only.
    expect((await save(source({ a: 'id: z.string(),\n      note: z.string().max(20).optional()', aDescription: 'First, edited.' }))).checked).toEqual(['alpha']);

    // A type error in gamma: the same problem, at the same place, as a full run (then a full check finds it).
    const broken = await save(source({ c: "tags: z.array(z.string()).min('one')" }));
    expect(broken.outcome).toMatchObject({ stage: 'types' });
    // Fixed: compared with the last successful run (alpha's edits undone, gamma changed), both are checked.
    expect((await save(source({ c: 'tags: z.array(z.number())' }))).checked).toEqual(['alpha', 'gamma']);
    expect((await save(source({ c: 'tags: z.array(z.string())' }))).checked).toEqual(['gamma']);

    // A field no enqueue can fill, in an edited job: the same located problem as a full run.
    expect((await save(source({ c: 'tags: z.array(z.string()), when: z.date()' }))).outcome).toMatchObject({ stage: 'payload' });

    // Back to the start (gamma differs from the last successful run), then outside the job map (a shared schema)
    // and a renamed job: full checks.
    expect((await save(source())).checked).toEqual(['gamma']);
    expect((await save(source({ shared: 'street: z.string(), city: z.string()' }))).checked).toBeUndefined();
    expect((await save(source({ shared: 'street: z.string(), city: z.string()', names: ['alpha', 'epsilon'] }))).checked).toBeUndefined();
    // And incremental again after them.
    expect((await save(source({ shared: 'street: z.string(), city: z.string()', names: ['alpha', 'epsilon'], a: 'id: z.uuid()' }))).checked).toEqual(['alpha']);
  }, 120_000);

  it("a kept job's result types are written as a full run writes them, from the new program", async () => {
    const result = 'z.object({ url: z.url().describe("Where the report is"), rows: z.number().int() })';
    await save(source({ betaResult: result }));
    // Only alpha is checked: beta (and its result) is kept from the last run.
    expect((await save(source({ betaResult: result, a: 'id: z.string(), tries: z.number()' }))).checked).toEqual(['alpha']);
    expect((await save(source({ betaResult: result, a: 'id: z.uuid()' }))).checked).toEqual(['alpha']);
  }, 120_000);
  it("a comment above a job is that job's: editing it has that job checked again, not the one before", async () => {
    await save(source({ betaComment: 'Sends the report.' }));
    // In a JavaScript schema such a comment can type the job (a JSDoc @type), so it must not be kept unchecked.
    expect((await save(source({ betaComment: 'Sends the weekly report.' }))).checked).toEqual(['beta']);
    expect((await save(source({ betaComment: 'Sends the weekly report.', a: 'id: z.uuid()' }))).checked).toEqual(['alpha']);
  }, 120_000);
});
