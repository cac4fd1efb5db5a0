/**
 * Job ids that are not valid UTF-8 (issue 16, item 3), as a producer in another language may write them straight into
 * Redis. A client decodes ids to strings, which changes such bytes, so the job could never be acknowledged (its
 * completion was refused as "lease taken over" and it was recovered every lease period, forever). The scripts that
 * lease jobs move such a job to the dead letters (reason `malformed_job`) in the same step as renaming it to
 * `#invalid-utf8:` + the id with bytes outside printable ASCII (and `%`) as `%XX`, once, where it can be read, retried
 * and deleted under its new id. Valid UTF-8 ids, multi-byte ones included, are left alone.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, queueKeys, type DeadReason } from '../src/index.js';
import { Scripts, type LeasedJob } from '../src/scripts.js';
import { throttledTypes } from '../src/throttle.js';
import { cleanupRegistry, redisUrl, testClient, waitFor } from './helpers.js';

const jobs = defineJobs({
  greet: { payload: z.object({ name: z.string() }), attempts: 3, backoff: { delay: 20 } },
  capped: { payload: z.object({}), concurrency: 1, unique: true },
});

const defer = cleanupRegistry();

/** The id the dead letter gets: printable ASCII but `%` kept, every other byte `%XX`. */
function addressable(bytes: Buffer): string {
  let out = '#invalid-utf8:';
  for (const b of bytes) out += b >= 0x21 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

const envelope = (name: string): string => JSON.stringify({ n: 'greet', t: Date.now(), p: { name } });

describe('job ids that are not valid UTF-8', () => {
  it('handed out by a fetch, are dead-lettered once under an addressable id and never run', async () => {
    const { prefix, client, raw } = testClient(jobs, 'binary-ids', defer);
    const k = queueKeys(prefix, 'default');
    // Bytes a client cannot round-trip: stray continuation bytes, a binary UUID, an overlong '/', an encoded surrogate
    // (Node decodes each of these to U+FFFD), and a truncated sequence at the end; plus a '%' and a space.
    const bad = {
      wait: Buffer.from([...Buffer.from('order-'), 0xff, 0xfe, ...Buffer.from('-1 %')]),
      prio: Buffer.from('9f1c2a7be04d4c43a1b2c3d4e5f60718', 'hex'),
      scheduled: Buffer.from([...Buffer.from('overlong-'), 0xc0, 0xaf]),
      surrogate: Buffer.from([...Buffer.from('surrogate-'), 0xed, 0xa0, 0x80]),
      truncated: Buffer.from([...Buffer.from('cut-'), 0xe2, 0x82]),
    };
    // Valid UTF-8 beyond ASCII runs as usual, under its own id: U+FFFD itself included (the character a client
    // decodes bad bytes to).
    const good = ['café-😀-ok', 'plain-ascii', 'replacement-\uFFFD-char'];

    for (const [where, id] of Object.entries(bad)) await raw.hset(k.jobs, id, envelope(where));
    await raw.rpush(k.wait, bad.wait, bad.surrogate, bad.truncated);
    await raw.zadd(k.prio, -5 * 2 ** 42 + 1, bad.prio);
    await raw.zadd(k.scheduled, 0, bad.scheduled);
    for (const id of good) await client.enqueue('greet', { name: id }, { jobId: id });

    const ran = new Map<string, number>();
    const dead = new Map<string, { reason: DeadReason; message: string; n: number }>();
    const failed: string[] = [];
    const completed = new Set<string>();
    const warnings: string[] = [];
    // A lease far longer than the test: only the fetch path can dead-letter these (lease recovery has its own test).
    const leaseMs = 30_000;
    // Two workers: either may rename a bad id the other was handed; each bad job still ends once.
    for (let w = 0; w < 2; w++) {
      const worker = createWorker(
        jobs,
        { greet: (_p, ctx) => void ran.set(ctx.id, (ran.get(ctx.id) ?? 0) + 1), capped: () => {} },
        {
          redis: redisUrl(),
          prefix,
          leaseMs,
          concurrency: 4,
          logger: { debug: () => {}, info: () => {}, warn: (m) => void warnings.push(m), error: (m) => void warnings.push(m) },
        },
      );
      defer(() => worker.close());
      worker.on('dead', (e) => dead.set(e.job.id, { reason: e.reason, message: e.error.message, n: (dead.get(e.job.id)?.n ?? 0) + 1 }));
      worker.on('failed', (e) => void failed.push(e.job.id));
      worker.on('completed', (e) => void completed.add(e.job.id));
    }

    const expected = Object.values(bad).map(addressable);
    expect(expected[0]).toBe('#invalid-utf8:order-%FF%FE-1%20%25');
    await waitFor(() => expected.every((id) => dead.has(id)) && good.every((id) => completed.has(id)), 'every bad id dead-lettered, every good one run');

    for (const id of expected) {
      expect(dead.get(id), id).toMatchObject({ reason: 'malformed_job', n: 1 });
      expect(dead.get(id)?.message, id).toMatch(/job id is not valid UTF-8.*renamed to "#invalid-utf8:/);
    }
    expect(dead.size).toBe(expected.length);
    expect(failed).toEqual([]);
    expect([...ran.entries()].sort()).toEqual(good.map((id) => [id, 1]).sort());
    expect(warnings.filter((w) => /taken over|lost the lease|recovered/.test(w))).toEqual([]);
    // No trace of the bad ids is left among the live jobs, under either name.
    expect(await raw.hlen(k.jobs)).toBe(0);
    expect(await raw.hlen(k.attempts)).toBe(0);
    expect(await raw.zcard(k.active)).toBe(0);
    expect(await raw.zcard(k.scheduled)).toBe(0);

    // The dead letters are addressable from a client: listed, read, looked up by id, deleted, retried.
    const letters = await client.deadLetters.list('default');
    expect(letters.map((l) => l.id).sort()).toEqual([...expected].sort());
    for (const l of letters) {
      expect(l.reason).toBe('malformed_job');
      expect(l.name).toBe('greet');
    }
    const first = expected[0] as string;
    expect(await client.deadLetters.queue('default').get(first)).toMatchObject({ id: first, payload: { name: 'wait' } });
    expect(await client.getJob(first)).toMatchObject({ state: 'dead', deadReason: 'malformed_job' });
    expect(await client.deadLetters.delete(expected[1] as string)).toBe(true);
    // A retried one runs under its new id, like any other job.
    expect(await client.deadLetters.retry(first)).toBe(true);
    await waitFor(() => ran.get(first) === 1, 'the retried job to run');
    await waitFor(async () => (await client.getJob(first))?.state === 'completed', 'the retried job to complete');
  });

  it('an expired lease on such an id is renamed by lease recovery and dead-lettered once', async () => {
    const { prefix, client, raw } = testClient(jobs, 'binary-ids-recovery', defer);
    const k = queueKeys(prefix, 'default');
    const id = Buffer.from([...Buffer.from('leased-'), 0xc3, 0x28]); // 0xC3 must be followed by a continuation byte
    await raw.hset(k.jobs, id, envelope('recovered'));
    await raw.zadd(k.active, 0, id);
    await raw.hset(k.attempts, id, '2');
    const dead: { id: string; reason: DeadReason; attempt: number }[] = [];
    const warnings: string[] = [];
    const worker = createWorker(
      jobs,
      { greet: () => {}, capped: () => {} },
      {
        redis: redisUrl(),
        prefix,
        leaseMs: 300,
        logger: { debug: () => {}, info: () => {}, warn: (m) => void warnings.push(m), error: (m) => void warnings.push(m) },
      },
    );
    defer(() => worker.close());
    worker.on('dead', (e) => void dead.push({ id: e.job.id, reason: e.reason, attempt: e.job.attempt }));
    await waitFor(() => dead.length > 0, 'the dead letter');
    const [s0] = await raw.time();
    await waitFor(async () => Number((await raw.time())[0]) > Number(s0) + 2, 'several lease periods');
    expect(dead).toEqual([{ id: addressable(id), reason: 'malformed_job', attempt: 2 }]);
    expect(warnings.filter((w) => /taken over|lost the lease|recovered/.test(w))).toEqual([]);
    expect(await raw.zcard(k.active)).toBe(0);
    expect(await raw.hlen(k.jobs)).toBe(0);
    expect((await client.deadLetters.list('default')).map((l) => [l.id, l.reason, l.attempts])).toEqual([[addressable(id), 'malformed_job', 2]]);
  });

  it('the scripts dead-letter a renamed job in the same step, free its slot and lock, and never hand it out under another id', async () => {
    const { prefix, raw } = testClient(jobs, 'binary-ids-scripts', defer);
    const k = queueKeys(prefix, 'default');
    const types = throttledTypes(jobs, k);
    const capped = types[0]?.keys;
    if (capped === undefined) throw new Error('no throttled type');
    const scripts = new Scripts(raw);
    const call = (s: Scripts, expiry: number, handed: LeasedJob[]): Promise<LeasedJob[]> =>
      (s as unknown as { invalidIds: (...a: unknown[]) => Promise<LeasedJob[]> }).invalidIds(k, { types, maxDead: 100, maxEnvelopeBytes: 0, expiry: String(expiry), jobs: handed });
    const decoded = (b: Buffer): string => b.toString('utf8');

    // 1. Lease recovery: a crashed worker held a capped, unique job under an id that is not UTF-8. One recover call
    //    leaves it dead, its slot and lock free, nothing of it runnable under either name.
    const crashed = Buffer.from([...Buffer.from('crashed-'), 0xff]);
    await raw.hset(k.jobs, crashed, JSON.stringify({ n: 'capped', t: 1, p: {}, u: 'lock-1' }));
    await raw.zadd(k.active, 0, crashed);
    await raw.hset(k.attempts, crashed, '2');
    await raw.zadd(capped.running, Date.now() + 60_000, crashed);
    await raw.set(`${k.uniquePrefix}lock-1`, crashed);
    await raw.zadd(capped.ready, 1, 'waits-for-the-slot');
    const recovered = await scripts.recover(k, { leaseMs: 30_000, max: 10, types, maxDead: 100 });
    expect(recovered).toEqual([expect.objectContaining({ id: addressable(crashed), attempt: 2, invalidId: true })]);
    expect(await raw.hexists(k.dead, addressable(crashed))).toBe(1);
    expect(JSON.parse((await raw.hget(k.deadInfo, addressable(crashed))) as string)).toMatchObject({
      reason: 'malformed_job',
      attempts: 2,
      error: { message: expect.stringMatching(/job id is not valid UTF-8.*renamed to "#invalid-utf8:crashed-%FF"/) },
    });
    expect(await raw.zcard(k.active)).toBe(0);
    expect(await raw.hlen(k.jobs)).toBe(0);
    expect(await raw.hlen(k.attempts)).toBe(0);
    expect(await raw.zcard(capped.running)).toBe(0);
    expect(await raw.exists(`${k.uniquePrefix}lock-1`)).toBe(0);
    expect(await raw.llen(k.notify)).toBe(1); // a job waited for the slot: a worker is woken
    expect(await scripts.recover(k, { leaseMs: 30_000, max: 10, types, maxDead: 100 })).toEqual([]);
    await raw.del(capped.ready, k.notify);

    // 2. The same raw id written again: its dead letter gets a free name, the first one is kept.
    const again = envelope('again');
    await raw.hset(k.jobs, crashed, again);
    await raw.zadd(k.active, 0, crashed);
    await raw.hset(k.attempts, crashed, '1');
    expect((await scripts.recover(k, { leaseMs: 30_000, max: 10, types, maxDead: 100 })).map((j) => j.id)).toEqual([`${addressable(crashed)}#2`]);
    expect(await raw.hlen(k.dead)).toBe(2);
    expect(await raw.hget(k.dead, `${addressable(crashed)}#2`)).toBe(again);

    // 3. A fetch hands out an invalid id that decodes to the id of a valid job leased elsewhere ('a\xFF' and
    //    'a\uFFFD'): the worker must not run the invalid job under the valid one's id.
    const valid = 'a\uFFFD';
    const invalid = Buffer.from([0x61, 0xff]);
    expect(decoded(invalid)).toBe(valid);
    await raw.hset(k.jobs, valid, envelope('valid'));
    await raw.zadd(k.active, Date.now() + 600_000, valid);
    await raw.hset(k.attempts, valid, '1');
    const invalidEnvelope = envelope('invalid');
    await raw.hset(k.jobs, invalid, invalidEnvelope);
    await raw.rpush(k.wait, invalid);
    const fetched = await scripts.fetch(k, { types, want: 5, leaseMs: 30_000, keepCount: 1000, keepAgeMs: 3_600_000, acks: [], maxDead: 100, maxEnvelopeBytes: 0 });
    expect(fetched.jobs).toEqual([expect.objectContaining({ id: addressable(invalid), invalidId: true })]);
    expect(await raw.hget(k.dead, addressable(invalid))).toBe(invalidEnvelope);
    expect(await raw.zscore(k.active, valid)).not.toBeNull(); // the valid job's lease is untouched

    // 4. Worker A's call dead-letters a job worker B was handed in a batch leased in the same millisecond; B's call
    //    then drops it (no second dead letter, nothing to run).
    const handedToB = Buffer.from([...Buffer.from('b-'), 0xfe]);
    const expiry = Date.now() + 30_000;
    await raw.hset(k.jobs, handedToB, envelope('b'));
    await raw.zadd(k.active, expiry, handedToB);
    await raw.hset(k.attempts, handedToB, '1');
    const bJob: LeasedJob = { id: decoded(handedToB), raw: envelope('b'), attempt: 1 };
    expect(await call(scripts, expiry, [])).toEqual([expect.objectContaining({ id: addressable(handedToB), invalidId: true })]);
    expect(await call(new Scripts(raw), expiry, [bJob])).toEqual([]);
    expect(await raw.hexists(k.dead, addressable(handedToB))).toBe(1);
    expect(await raw.zscore(k.active, handedToB)).toBeNull();
  });

  it('an over-size envelope under such an id is not sent whole either (fetch and recovery): only its size and head', async () => {
    const { prefix, raw } = testClient(jobs, 'binary-ids-too-big', defer);
    const k = queueKeys(prefix, 'default');
    const scripts = new Scripts(raw);
    const big = `{"n":"echo","t":1,"p":{"text":"${'x'.repeat(200_000)}"}}`;
    const fetchedId = Buffer.from([...Buffer.from('big-'), 0xff]);
    await raw.hset(k.jobs, fetchedId, big);
    await raw.rpush(k.wait, fetchedId);
    const fetched = await scripts.fetch(k, { types: [], want: 5, leaseMs: 30_000, keepCount: 1000, keepAgeMs: 3_600_000, acks: [], maxDead: 100, maxEnvelopeBytes: 1_000 });
    expect(fetched.jobs).toHaveLength(1);
    expect(fetched.jobs[0]).toMatchObject({ id: addressable(fetchedId), invalidId: true, raw: null, tooBig: { bytes: big.length } });
    expect(await raw.hget(k.dead, addressable(fetchedId))).toBe(big); // dead-lettered whole, inside Redis

    const expiredId = Buffer.from([...Buffer.from('big-'), 0xfe]);
    await raw.hset(k.jobs, expiredId, big);
    await raw.zadd(k.active, Date.now() - 1, expiredId);
    await raw.hset(k.attempts, expiredId, '1');
    const recovered = await scripts.recover(k, { leaseMs: 30_000, max: 10, types: [], maxDead: 100, maxEnvelopeBytes: 1_000 });
    expect(recovered).toEqual([expect.objectContaining({ id: addressable(expiredId), invalidId: true, raw: null, tooBig: expect.objectContaining({ bytes: big.length }) })]);
  });

  it('a failed dead-lettering call keeps the rest of the fetched batch; lease recovery settles the suspect later', async () => {
    const { prefix, raw } = testClient(jobs, 'binary-ids-keep-batch', defer);
    const k = queueKeys(prefix, 'default');
    const scripts = new Scripts(raw);
    const bad = Buffer.from([...Buffer.from('bad-'), 0xff]);
    await raw.hset(k.jobs, 'good-1', envelope('good'));
    await raw.hset(k.jobs, bad, envelope('bad'));
    await raw.rpush(k.wait, 'good-1', bad);
    await raw.set(k.deadInfo, 'not a hash'); // invalid-ids.lua refuses to run (WRONGTYPE) after fetch.lua leased both
    const fetched = await scripts.fetch(k, { types: [], want: 5, leaseMs: 1, keepCount: 1000, keepAgeMs: 3_600_000, acks: [], maxDead: 100, maxEnvelopeBytes: 0 });
    expect(fetched.jobs.map((j) => j.id)).toEqual(['good-1']);
    expect(await raw.zscore(k.active, bad)).not.toBeNull(); // still leased under its raw id
    await raw.del(k.deadInfo);
    const recovered = await waitFor(async () => {
      const got = await scripts.recover(k, { leaseMs: 30_000, max: 10, types: [], maxDead: 100 });
      return got.some((j) => j.invalidId === true) ? got : undefined;
    }, 'lease recovery to dead-letter the suspect');
    expect(recovered.find((j) => j.invalidId === true)?.id).toBe(addressable(bad));
    expect(await raw.hexists(k.dead, addressable(bad))).toBe(1);
  });
});
