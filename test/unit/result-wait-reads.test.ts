/**
 * How a result wait sends its reads (src/result-wait.ts, docs/results.md "How waiting works"), against fakes: the
 * first read of a turn of the event loop goes at once (`now`: scripts.ts RESULT_NOW, which the client's connection
 * keeps out of auto-pipelining), reads asked later in the same turn go auto-pipelined, together. No timings are
 * asserted: each step is awaited by condition.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { queueKeys, resultChannel } from '../../src/keys.js';
import type { Logger } from '../../src/logger.js';
import type { RedisConnection } from '../../src/redis.js';
import { ResultWaiters } from '../../src/result-wait.js';
import type { RawResult, Scripts } from '../../src/scripts.js';

async function waitFor<T>(check: () => T, what: string): Promise<NonNullable<T>> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const value = check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** The subscriber connection: every subscription is confirmed at once; the test emits the messages. */
class FakeSubscriber extends EventEmitter {
  subscribe(): Promise<number> {
    return Promise.resolve(1);
  }
  disconnect(): void {}
}

/** A read the waiters made: which job, whether it was sent at once, and its answer. */
interface Read {
  readonly id: string;
  readonly now: boolean;
  answer(raw: RawResult): void;
}

function setup() {
  const sub = new FakeSubscriber();
  const reads: Read[] = [];
  const scripts = {
    result: (_k: unknown, input: { readonly id: string }, now = false): Promise<RawResult> =>
      new Promise((resolve) => reads.push({ id: input.id, now, answer: resolve })),
  } as unknown as Scripts;
  const quiet = () => {};
  const logger = { debug: quiet, info: quiet, warn: quiet, error: quiet } as unknown as Logger;
  const redis = { duplicate: () => sub } as unknown as RedisConnection;
  const waiters = new ResultWaiters({ scripts, redis, limit: (call) => call(), logger });
  const k = queueKeys('rw', 'q');
  const job = { name: 'render', result: { schema: z.object({ n: z.number() }), retentionMs: 60_000, maxBytes: 1_000 } };
  const wait = (id: string) => waiters.wait(job, k, id);
  return { sub, reads, waiters, wait, channel: resultChannel(k) };
}

describe('result waits: how reads are sent', () => {
  it("a lone wait's reads go at once: the first one, and the one its announcement asks for", async () => {
    const { sub, reads, waiters, wait, channel } = setup();
    const done = wait('a');
    const first = await waitFor(() => reads[0], 'the first read');
    expect(first).toMatchObject({ id: 'a', now: true });
    first.answer({ state: 'live' });
    await sleep(1);
    sub.emit('message', channel, 'ra');
    const second = await waitFor(() => reads[1], 'the read after the announcement');
    expect(second).toMatchObject({ id: 'a', now: true });
    second.answer({ state: 'result', json: '{"n":1}' });
    await expect(done).resolves.toEqual({ n: 1 });
    await waiters.close();
  });

  it('reads asked in the same turn after the first go together (auto-pipelined); a later turn sends at once again', async () => {
    const { sub, reads, waiters, wait, channel } = setup();
    const ids = ['a', 'b', 'c', 'd'];
    const done = ids.map((id) => wait(id));
    await waitFor(() => reads.length === ids.length, 'the first reads');
    // Started in one turn: one read goes at once, the others ride together.
    expect(reads.map((r) => r.now)).toEqual([true, false, false, false]);
    for (const r of reads.splice(0)) r.answer({ state: 'live' });
    await sleep(1);
    // A burst of announcements (one socket read holds them all): the same.
    for (const id of ids) sub.emit('message', channel, `r${id}`);
    await waitFor(() => reads.length === ids.length, 'the reads the announcements asked for');
    expect(reads.map((r) => [r.id, r.now])).toEqual([
      ['a', true],
      ['b', false],
      ['c', false],
      ['d', false],
    ]);
    for (const r of reads.splice(0)) r.answer({ state: 'result', json: `{"n":${r.id.charCodeAt(0)}}` });
    await expect(Promise.all(done)).resolves.toEqual(ids.map((id) => ({ n: id.charCodeAt(0) })));
    // Nothing waits now; a wait in a later turn reads at once.
    const later = wait('e');
    const read = await waitFor(() => reads[0], 'the read of a later wait');
    expect(read).toMatchObject({ id: 'e', now: true });
    read.answer({ state: 'unknown' });
    await expect(later).rejects.toMatchObject({ name: 'JobNotFoundError' });
    await waiters.close();
  });
});
