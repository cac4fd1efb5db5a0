/**
 * Type-level tests of versioned payloads (docs/contracts.md, "Versioned payloads"). Never executed: `tsc --noEmit`
 * checks that every correct declaration and call compiles, and test/codegen-types.test.ts that each
 * `@ts-expect-error -- TSnnnn` line fails with exactly that error code. A migration whose types do not fit its
 * neighbours, or an `emitVersion` the job does not have, must not compile; a pinned producer enqueues the pinned
 * version's input; handlers always see the current version.
 */
import * as z from 'zod';
import { createClient, createWorker, defineJobs, payloadVersion, type PayloadInput, type PayloadOutput, type VersionSchema } from '../../src/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | void {}

const v1 = z.object({ to: z.string() });
const v2 = z.object({ to: z.array(z.string()) });
const v3 = z.object({ to: z.array(z.string()), subject: z.string().default('(none)') });

const jobs = defineJobs({
  // Three versions; each migration's parameter is typed by payloadVersion.
  mail: { payload: v3, versions: [payloadVersion(v1, (p) => ({ to: [p.to] })), payloadVersion(v2, (p) => ({ to: p.to }))] },
  // A plain entry with an annotated migration; producers pinned to version 1.
  pinned: { payload: v2, versions: [{ payload: v1, migrate: (p: z.output<typeof v1>) => ({ to: [p.to] }) }], emitVersion: 1 },
  plain: { payload: v1 },
});

export function declarationTypes(): void {
  assertType<Equal<VersionSchema<(typeof jobs)['definitions']['mail'], 1>, typeof v1>>();
  assertType<Equal<VersionSchema<(typeof jobs)['definitions']['mail'], 3>, typeof v3>>();
  assertType<Equal<PayloadInput<typeof jobs, 'mail'>, z.input<typeof v3>>>();
  assertType<Equal<PayloadInput<typeof jobs, 'pinned'>, z.input<typeof v1>>>();
  assertType<Equal<PayloadOutput<typeof jobs, 'pinned'>, z.output<typeof v2>>>();
  assertType<Equal<PayloadInput<typeof jobs, 'plain'>, z.input<typeof v1>>>();

  // A migration returning what the next version does not accept.
  // @ts-expect-error -- TS2322 version 2's migration must return the current input (to: string[])
  defineJobs({ a: { payload: v3, versions: [payloadVersion(v1, (p) => ({ to: [p.to] })), payloadVersion(v2, (p) => ({ to: p.to.join() }))] } });
  // @ts-expect-error -- TS2322 version 1's migration must return version 2's input
  defineJobs({ a: { payload: v3, versions: [payloadVersion(v1, (p) => ({ to: p.to })), payloadVersion(v2, (p) => ({ to: p.to }))] } });
  // A migration taking another version's output.
  // @ts-expect-error -- TS2322 the migration of version 1 receives version 1's output
  defineJobs({ a: { payload: v2, versions: [{ payload: v1, migrate: (p: z.output<typeof v2>) => p }] } });
  // Inside payloadVersion the parameter is version 1's output.
  // @ts-expect-error -- TS2339 version 1 has no subject
  defineJobs({ a: { payload: v2, versions: [payloadVersion(v1, (p) => ({ to: [p.subject] }))] } });
  // An emitVersion the job does not have.
  // @ts-expect-error -- TS2322 the versions are 1 and 2
  defineJobs({ a: { payload: v2, versions: [payloadVersion(v1, (p) => ({ to: [p.to] }))], emitVersion: 3 } });
  // @ts-expect-error -- TS2322 a job without versions has only version 1
  defineJobs({ a: { payload: v2, emitVersion: 2 } });
  // cronPayload is the emitted version's input.
  defineJobs({ a: { payload: v2, versions: [payloadVersion(v1, (p) => ({ to: [p.to] }))], emitVersion: 1, cron: '0 * * * *', cronPayload: { to: 'x' } } });
  // @ts-expect-error -- TS2322 pinned to version 1: cronPayload is version 1's input
  defineJobs({ a: { payload: v2, versions: [payloadVersion(v1, (p) => ({ to: [p.to] }))], emitVersion: 1, cron: '0 * * * *', cronPayload: { to: ['x'] } } });
}

export async function producerAndHandlerTypes(): Promise<void> {
  const client = createClient(jobs);
  await client.enqueue('mail', { to: ['a@x.io'] });
  await client.enqueue('pinned', { to: 'a@x.io' });
  await client.enqueueMany('pinned', [{ to: 'a@x.io' }]);
  // @ts-expect-error -- TS2322 pinned producers write version 1 (to: string)
  await client.enqueue('pinned', { to: ['a@x.io'] });
  // @ts-expect-error -- TS2322 the current version's input, not version 1's
  await client.enqueue('mail', { to: 'a@x.io' });
  // @ts-expect-error -- TS2322 each payload of a batch too
  await client.enqueueMany('pinned', [{ to: ['a@x.io'] }]);
  createWorker(jobs, {
    mail: (p) => {
      assertType<Equal<typeof p, { to: string[]; subject: string }>>();
    },
    pinned: (p) => {
      assertType<Equal<typeof p, { to: string[] }>>();
    },
    plain: () => {},
  });
}
