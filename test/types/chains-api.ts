/**
 * Type-level tests of chains and fan-in (docs/results.md, "Chains", "Fan-in"). Never executed: `tsc --noEmit` checks that every correct
 * chain compiles, and test/codegen-types.test.ts that each `@ts-expect-error -- TSnnnn` line fails with that code.
 */
import * as z from 'zod';
import { createClient, defineJobs, type ChainableAfter } from '../../src/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | void {}

const jobs = defineJobs({
  fetchPage: { payload: z.object({ url: z.string() }), result: z.object({ url: z.string(), bytes: z.number() }) },
  // Its result's output has `lang` filled in (a default): the next step's payload may require it.
  countWords: { payload: z.object({ url: z.string(), bytes: z.number() }), result: z.object({ words: z.number(), lang: z.string().default('en') }) },
  report: { payload: z.object({ words: z.number(), lang: z.string() }), result: z.string() },
  archive: { payload: z.object({ words: z.number() }) },
  needsId: { payload: z.object({ id: z.number() }), result: z.number() },
  takesString: { payload: z.string(), result: z.string().transform((s) => s.length) },
  takesNumber: { payload: z.number(), result: z.boolean() },
  summarize: { payload: z.object({ topic: z.string(), counts: z.array(z.object({ words: z.number(), lang: z.string() })) }), result: z.number() },
  summarizeLoose: { payload: z.object({ topic: z.string(), counts: z.array(z.object({ words: z.number() }).nullable()) }) },
});

export async function fanInTypes(): Promise<void> {
  const client = createClient(jobs);
  const fan = await client.fanIn('summarize', { topic: 't' }, { children: 'countWords', payloads: [{ url: 'u', bytes: 1 }], into: 'counts' });
  const total = await fan.result();
  assertType<Equal<typeof total, number>>();
  assertType<Equal<(typeof fan)['children'], readonly string[]>>();
  // 'continue' puts null in a failed child's place: only a field that accepts null compiles.
  await client.fanIn('summarizeLoose', { topic: 't' }, { children: 'countWords', payloads: [], into: 'counts', onChildFailure: 'continue' });
  // @ts-expect-error -- TS2345 under 'continue' a field that does not accept null does not compile (no field fits: the payload lacks it)
  await client.fanIn('summarize', { topic: 't' }, { children: 'countWords', payloads: [], into: 'counts', onChildFailure: 'continue' });
  // @ts-expect-error -- TS2345 fetchPage's result is not an element of counts (no field fits)
  await client.fanIn('summarize', { topic: 't' }, { children: 'fetchPage', payloads: [{ url: 'u' }], into: 'counts' });
  // @ts-expect-error -- TS2345 children must declare a result (no field fits)
  await client.fanIn('summarize', { topic: 't' }, { children: 'archive', payloads: [], into: 'counts' });
  // @ts-expect-error -- TS2322 the children's payloads are typed
  await client.fanIn('summarize', { topic: 't' }, { children: 'countWords', payloads: [{ url: 1, bytes: 1 }], into: 'counts' });
  const loose = await client.fanIn('summarizeLoose', { topic: 't' }, { children: 'countWords', payloads: [], into: 'counts', onChildFailure: 'ignore' });
  // @ts-expect-error -- TS2339 a parent without a result has no result()
  await loose.result();
}

export async function chainTypes(): Promise<void> {
  const client = createClient(jobs);
  const chain = await client.chain('fetchPage', { url: 'u' }).next('countWords').next('report').enqueue();
  const text = await chain.result({ timeout: '10s' });
  assertType<Equal<typeof text, string>>();
  assertType<Equal<(typeof chain)['id'], string>>();
  // A step may take fewer fields than the result has (extra ones are the payload schema's business at dequeue).
  await client.chain('countWords', { url: 'u', bytes: 1 }).next('archive').enqueue();
  // The output type is what flows on: takesString's result is a number once transformed, takesNumber's payload.
  const flag = await client.chain('takesString', 'abc').next('takesNumber').enqueue();
  assertType<Equal<Awaited<ReturnType<typeof flag.result>>, boolean>>();
  const length = await (await client.chain('fetchPage', { url: 'u' }).enqueue()).result();
  assertType<Equal<typeof length, { url: string; bytes: number }>>();
  assertType<Equal<ChainableAfter<typeof jobs, 'countWords'>, 'report' | 'archive'>>();
  // @ts-expect-error -- TS2345 fetchPage's result ({ url, bytes }) is not report's payload ({ words, lang })
  client.chain('fetchPage', { url: 'u' }).next('report');
  // @ts-expect-error -- TS2345 countWords' result has no id
  client.chain('fetchPage', { url: 'u' }).next('countWords').next('needsId');
  // @ts-expect-error -- TS2349 archive declares no result, so no step can follow it
  client.chain('countWords', { url: 'u', bytes: 1 }).next('archive').next('report');
  // @ts-expect-error -- TS2322 the first payload is checked like an enqueue's
  client.chain('fetchPage', { url: 1 });
  // @ts-expect-error -- TS2345 takesNumber's result (a boolean) is not takesString's payload (a string)
  client.chain('takesNumber', 1).next('takesString');
  // @ts-expect-error -- TS2345 not a job name
  client.chain('nope', {});
  // @ts-expect-error -- TS2345 not a job name as a step
  client.chain('fetchPage', { url: 'u' }).next('nope');
  // @ts-expect-error -- TS2322 the chain's result is its last step's (a string)
  const wrong: number = await chain.result();
  // @ts-expect-error -- TS2322 a chain's jobId is a string
  client.chain('fetchPage', { url: 'u' }, { jobId: 7 });
  // @ts-expect-error -- TS2322 a step's own result() is untyped (unknown): use the chain's result() for the typed one
  const step: number = await chain.steps[0]!.result();
  void wrong;
  void step;
  // A first step named by a union: every member must declare a result for a next step, and the next step's payload
  // must accept each member's result.
  const either = 'countWords' as 'countWords' | 'archive';
  // @ts-expect-error -- TS2349 archive (one of the union) declares no result, so no step can follow
  client.chain(either, { words: 1 }).next('report');
  const both = 'fetchPage' as 'fetchPage' | 'takesNumber';
  // @ts-expect-error -- TS2345 takesNumber's result (a boolean) is not countWords' payload
  client.chain(both, { url: 'u' }).next('countWords');
  // A chain rebuilt from its id elsewhere: typed by its last step.
  const rebuilt = await client.chainOf('c', ['fetchPage', 'countWords', 'report']).result();
  assertType<Equal<typeof rebuilt, string>>();
  // @ts-expect-error -- TS2345 the last step must declare a result
  client.chainOf('c', ['countWords', 'archive']);
  const plain = await client.chain('countWords', { url: 'u', bytes: 1 }).next('archive').enqueue();
  // @ts-expect-error -- TS2339 a chain whose last step declares no result has no result()
  await plain.result();
}
