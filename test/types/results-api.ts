/**
 * Type-level tests of job results (docs/results.md). Never executed: `tsc --noEmit` checks that every correct call
 * compiles, and test/codegen-types.test.ts that each `@ts-expect-error -- TSnnnn` line fails with exactly that code.
 */
import * as z from 'zod';
import { createClient, createWorker, defineJobs, type EnqueueResult, type HandlerReturn, type ResultOutput } from '../../src/index.js';
import { createJobsClient, enqueueRenderReportAndWait, type RenderReportResult, type RenderReportReturns } from '../codegen-fixtures/golden/generated/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | void {}

const jobs = defineJobs({
  render: {
    payload: z.object({ doc: z.string() }),
    result: z.object({ url: z.string(), pages: z.number().default(1), at: z.string().transform((s) => s.length) }),
  },
  plain: { payload: z.object({ n: z.number() }) },
});

export async function resultTypes(): Promise<void> {
  const client = createClient(jobs);
  const handle = await client.enqueue('render', { doc: 'a' });
  const value = await handle.result({ timeout: '5s' });
  // The wait gives the result schema's output type: defaults filled in, transforms applied.
  assertType<Equal<typeof value, { url: string; pages: number; at: number }>>();
  const many = await client.enqueueMany('render', [{ doc: 'a' }]);
  assertType<Equal<Awaited<ReturnType<NonNullable<(typeof many)[number]>['result']>>, ResultOutput<typeof jobs, 'render'>>>();
  const rebuilt = await client.job('render', 'render-id').result();
  assertType<Equal<typeof rebuilt, { url: string; pages: number; at: number }>>();
  // A job without a result: its enqueue gives the plain answer, with no handle.
  const plain = await client.enqueue('plain', { n: 1 });
  assertType<Equal<typeof plain, EnqueueResult>>();
  // @ts-expect-error -- TS2339 no result() for a job without a result schema
  await plain.result();
  // @ts-expect-error -- TS2345 client.job only takes jobs with a result schema
  client.job('plain', 'x');
  // @ts-expect-error -- TS2322 the result's url is a string
  const n: number = (await handle.result()).url;
  // @ts-expect-error -- TS2322 the wait's signal is an AbortSignal
  await handle.result({ signal: 'stop' });
  // @ts-expect-error -- TS2345 not a job name
  client.job('nope', 'x');
  void n;
  // The handler returns the schema's input type.
  assertType<Equal<HandlerReturn<typeof jobs, 'render'>, { url: string; pages?: number | undefined; at: string }>>();
  assertType<Equal<HandlerReturn<typeof jobs, 'plain'>, void>>();
}

export function handlerTypes(): void {
  createWorker(jobs, { render: ({ doc }) => ({ url: doc, at: 'x' }), plain: () => {} });
  createWorker(jobs, { render: async ({ doc }) => ({ url: doc, pages: 2, at: 'x' }), plain: async () => {} });
  // @ts-expect-error -- TS2322 a wrong result type does not compile
  createWorker(jobs, { render: () => ({ url: 1, at: 'x' }), plain: () => {} });
  // @ts-expect-error -- TS2322 a handler of a job with a result must return it
  createWorker(jobs, { render: () => {}, plain: () => {} });
  // @ts-expect-error -- TS2322 an async handler's result is checked too
  createWorker(jobs, { render: async () => ({ url: 'u' }), plain: () => {} });
  // @ts-expect-error -- TS2322 the output type (a number) is not what the handler returns (a string)
  createWorker(jobs, { render: () => ({ url: 'u', at: 3 }), plain: () => {} });
}

export async function generatedTypes(): Promise<void> {
  const client = createJobsClient();
  const handle = await client.enqueueRenderReport({ reportId: 'r1' });
  const value = await handle.result();
  assertType<Equal<typeof value, RenderReportResult>>();
  const waited = await enqueueRenderReportAndWait({ reportId: 'r1' }, { timeout: '10s', priority: 2 });
  assertType<Equal<typeof waited, { url: string; pages: number; tags?: string[] }>>();
  const returns: RenderReportReturns = { url: 'https://x' };
  // @ts-expect-error -- TS2741 the output type has its default filled in: pages is required
  const output: RenderReportResult = { url: 'https://x' };
  void output;
  // @ts-expect-error -- TS2741 the written-out result type keeps its required fields
  const missing: RenderReportReturns = { pages: 1 };
  void returns;
  void missing;
}
