/**
 * A key of the wrong type in the errors hash's place (written by something else) must not stop lease recovery or the
 * dead-lettering of ids that are not UTF-8: behaviour the typed Redis contract (#10) kept from the scripts it
 * replaced. Each case failed on the first contract version.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { defineJobs, queueKeys } from '../src/index.js';
import { Scripts } from '../src/scripts.js';
import { cleanupRegistry, testClient } from './helpers.js';

const jobs = defineJobs({ greet: { payload: z.object({ name: z.string() }) } });
const defer = cleanupRegistry();
const envelope = (name: string): string => JSON.stringify({ n: 'greet', t: Date.now(), p: { name } });

describe('an errors key of the wrong type (written by something else)', () => {
  // Only a dead letter's own script (dead.lua) writes the errors hash for sure; lease recovery and the renaming of
  // ids that are not UTF-8 only drop a record there (with pcall), so they never refused to run because of it.
  it('does not stop lease recovery: expired leases are still taken over, invalid ids still dead-lettered', async () => {
    const { prefix, raw } = testClient(jobs, 'contract-review-recover', defer);
    const k = queueKeys(prefix, 'default');
    const scripts = new Scripts(raw);
    await raw.set(k.errors, 'not a hash');
    await raw.hset(k.jobs, 'expired-1', envelope('a'));
    await raw.zadd(k.active, Date.now() - 1, 'expired-1');
    await raw.hset(k.attempts, 'expired-1', '1');
    const bad = Buffer.from([...Buffer.from('bad-'), 0xff]);
    await raw.hset(k.jobs, bad, envelope('b'));
    await raw.zadd(k.active, Date.now() - 1, bad);
    const recovered = await scripts.recover(k, { leaseMs: 30_000, max: 10, types: [], maxDead: 100 });
    expect(recovered.map((j) => [j.id, j.invalidId === true])).toEqual([
      ['expired-1', false],
      ['#invalid-utf8:bad-%FF', true],
    ]);
    expect(await raw.hexists(k.dead, '#invalid-utf8:bad-%FF')).toBe(1);
  });

  it('does not stop a fetched id that is not UTF-8 from being dead-lettered', async () => {
    const { prefix, raw } = testClient(jobs, 'contract-review-invalid-ids', defer);
    const k = queueKeys(prefix, 'default');
    const scripts = new Scripts(raw);
    await raw.set(k.errors, 'not a hash');
    const bad = Buffer.from([...Buffer.from('bad-'), 0xfe]);
    await raw.hset(k.jobs, bad, envelope('b'));
    await raw.rpush(k.wait, bad);
    const fetched = await scripts.fetch(k, { types: [], want: 5, leaseMs: 30_000, keepCount: 1000, keepAgeMs: 3_600_000, acks: [], maxDead: 100, maxEnvelopeBytes: 0 });
    expect(fetched.jobs.map((j) => [j.id, j.invalidId === true])).toEqual([['#invalid-utf8:bad-%FE', true]]);
    expect(await raw.hexists(k.dead, '#invalid-utf8:bad-%FE')).toBe(1);
    expect(await raw.zscore(k.active, bad)).toBeNull();
  });
});
