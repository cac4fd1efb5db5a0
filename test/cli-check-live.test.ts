/**
 * `jobcraft check --live` end to end: jobs stored by this process under an OLD job set (waiting, delayed, retrying,
 * dead, a job the new code removed, a queue larger than hash-max-listpack-entries), then the real command run
 * against a NEW schema file in a temporary project. Checked: exit codes, the counts per state, the failing paths,
 * `--json`'s shape, paging, the payload limit, that nothing in Redis changes (DUMP of every key before and after,
 * and a run as the documented read-only ACL user on a private redis-server), Ctrl-C, and that the verdict is the
 * worker's: a worker of the new code then dead-letters exactly the jobs the check named, with the same reasons.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { LiveCheckJson } from '../codegen/check-live.js';
import { PermanentError, createAdmin, createClient, createWorker, defineJobs, queueKeys, type JobSet } from '../src/index.js';
import { startRedisServer, type RedisServer } from '../scripts/redis-server.js';
import { runCli, writeSchemaProject, type Run } from './cli.js';
import { deletePrefix, keysUnder, rawRedis, redisUrl, testPrefix, waitFor } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'jobcraft-live-'));
const NEW_SCHEMA = join(dir, 'jobs.schema.ts');
const prefix = testPrefix('check-live');
const raw = rawRedis();
const MEDIA = 300;

/** The jobs as the code running now declares them. */
function oldJobs() {
  return defineJobs({
    sendEmail: { payload: z.object({ to: z.string() }), queue: 'mail', attempts: 5, backoff: { type: 'fixed', delay: '1h' } },
    legacyPing: { payload: z.object({}), queue: 'mail' },
    resize: { payload: z.object({ w: z.number() }).loose(), queue: 'media' },
  });
}

/** The jobs of the code about to deploy: sendEmail needs a subject, legacyPing is gone, resize is unchanged. */
const NEW_SOURCE = `import * as z from 'zod';
import { defineJobs } from 'jobcraft/schema';

export const jobs = defineJobs({
  sendEmail: { payload: z.object({ to: z.string(), subject: z.string() }), queue: 'mail', attempts: 5 },
  resize: { payload: z.object({ w: z.number() }).loose(), queue: 'media' },
});
`;
function newJobs() {
  return defineJobs({
    sendEmail: { payload: z.object({ to: z.string(), subject: z.string() }), queue: 'mail', attempts: 5 },
    resize: { payload: z.object({ w: z.number() }).loose(), queue: 'media' },
  });
}

/** Writes the temporary project whose schema file imports jobcraft/schema (served from this checkout) and zod. */
function writeProject(): void {
  writeSchemaProject(dir, { 'package.json': JSON.stringify({ name: 'mail-service', private: true, type: 'module' }), 'jobs.schema.ts': NEW_SOURCE });
}

function cli(args: readonly string[], url = redisUrl(), onSpawn?: Parameters<typeof runCli>[2]): Promise<Run> {
  return runCli(['check', '--live', '--schema', NEW_SCHEMA, ...args], { REDIS_URL: url, JOBCRAFT_PREFIX: prefix, NO_COLOR: '1', FORCE_COLOR: '' }, onSpawn);
}

function json(run: Run): LiveCheckJson {
  try {
    return JSON.parse(run.stdout) as LiveCheckJson;
  } catch {
    throw new Error(`not JSON (exit ${run.code}): ${run.stdout}\n${run.stderr}`);
  }
}

/** The ids of each state, as stored by {@link storeOldJobs}. */
interface Stored {
  readonly waiting: string[];
  readonly delayed: string;
  readonly retrying: string;
  readonly dead: string;
  readonly legacy: string;
  readonly big: string;
}

/**
 * Stores jobs the way production would under the old code: a worker fails one (retrying, an hour's backoff) and
 * gives up on another (dead), then more are enqueued (waiting, delayed) without a worker.
 */
async function storeOldJobs(redis: string, p: string): Promise<Stored> {
  const jobs = oldJobs();
  const client = createClient(jobs, { redis, prefix: p });
  const retrying = (await client.enqueue('sendEmail', { to: 'retry-me' })).id;
  const dead = (await client.enqueue('sendEmail', { to: 'dead-me' })).id;
  const worker = createWorker(
    jobs,
    {
      sendEmail: ({ to }) => {
        throw to === 'dead-me' ? new PermanentError('no such mailbox') : new Error('smtp down');
      },
      legacyPing: () => {},
    },
    { redis, prefix: p, logger: false, queues: ['mail'] },
  );
  const k = queueKeys(p, 'mail');
  const r = new Redis(redis);
  await waitFor(async () => (await r.hexists(k.errors, retrying)) === 1 && (await r.hexists(k.dead, dead)) === 1 && (await r.zcard(k.active)) === 0, 'a retrying job and a dead letter');
  await worker.close();
  r.disconnect();
  const waiting = (await client.enqueueMany('sendEmail', [{ to: 'a@example.com' }, { to: 'b@example.com' }])).map((x) => x.id);
  const delayed = (await client.enqueue('sendEmail', { to: 'later@example.com' }, { delay: '1h' })).id;
  const legacy = (await client.enqueue('legacyPing', {})).id;
  await client.enqueueMany('resize', Array.from({ length: MEDIA }, (_, i) => ({ w: i })));
  // Over the limit of a worker started with maxPayloadBytes 1000 (the envelope adds at most 1 KiB).
  const big = (await client.enqueue('resize', { w: 1, pad: 'x'.repeat(3000) })).id;
  await client.close();
  return { waiting, delayed, retrying, dead, legacy, big };
}

/** DUMP of every key under a prefix: the bytes of each value, so any write shows. */
async function snapshot(redis: Redis, p: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const key of (await keysUnder(redis, p)).sort()) out.set(key, ((await redis.dumpBuffer(key)) ?? Buffer.alloc(0)).toString('hex'));
  return out;
}

let stored: Stored;

beforeAll(async () => {
  writeProject();
  stored = await storeOldJobs(redisUrl(), prefix);
}, 60_000);

afterAll(async () => {
  await deletePrefix(raw, prefix);
  raw.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

const typeOf = (report: LiveCheckJson, queue: string, job: string | null) => report.queues.find((q) => q.queue === queue)?.jobs.find((t) => t.job === job);

describe('jobcraft check --live', { timeout: 120_000 }, () => {
  it('flags every stored job the new schema rejects, in each state, with its paths; reads everything in small pages; changes nothing', async () => {
    const before = await snapshot(raw, prefix);
    // Page size 7: the media queue (301 jobs, over hash-max-listpack-entries) takes many HSCAN pages.
    const run = await cli(['--json', '--page-size', '7']);
    expect(run.code).toBe(2);
    const report = json(run);
    expect(report).toMatchObject({ live: true, verdict: 'would_fail', prefix, dead: true, interrupted: false, maxPayloadBytes: 16 * 1024 * 1024 });
    expect(report.queues.map((q) => q.queue)).toEqual(['mail', 'media']);

    const email = typeOf(report, 'mail', 'sendEmail');
    expect(email).toMatchObject({
      declared: true,
      scanned: 5,
      failing: 5,
      failingBy: { waiting: 2, delayed: 1, retrying: 1, active: 0, dead: 1 },
      reasons: { invalid_payload: 5, unknown_job: 0, malformed_job: 0 },
      otherPaths: 0,
    });
    expect(email?.paths).toEqual([{ path: 'subject', code: 'invalid_type', message: expect.stringMatching(/expected string/), count: 5 }]);
    expect(email?.hint).toMatch(/rejects payloads stored now/);
    const samples = new Map(email?.samples.map((s) => [s.id, s.state]));
    expect(samples).toEqual(
      new Map([
        [stored.waiting[0], 'waiting'],
        [stored.waiting[1], 'waiting'],
        [stored.delayed, 'delayed'],
        [stored.retrying, 'retrying'],
        [stored.dead, 'dead'],
      ]),
    );

    const legacy = typeOf(report, 'mail', 'legacyPing');
    expect(legacy).toMatchObject({ declared: false, scanned: 1, failing: 1, reasons: { unknown_job: 1 }, failingBy: { waiting: 1 } });
    expect(legacy?.paths[0]).toMatchObject({ path: '', code: 'unknown_job', message: expect.stringContaining('unknown job name "legacyPing"') });
    expect(legacy?.hint).toMatch(/removed or renamed.*aliases/);

    // Every one of the 301 media jobs read once, none failing.
    expect(typeOf(report, 'media', 'resize')).toMatchObject({ scanned: MEDIA + 1, failing: 0, paths: [], samples: [] });
    expect(report.queues.find((q) => q.queue === 'media')).toMatchObject({ scannedLive: MEDIA + 1, scannedDead: 0, failing: 0 });
    expect(report).toMatchObject({ scanned: MEDIA + 1 + 5 + 1, failing: 6 });
    expect(await raw.object('ENCODING', queueKeys(prefix, 'media').jobs)).toBe('hashtable');

    expect(await snapshot(raw, prefix)).toEqual(before);
  });

  it('prints a table per queue and job type, the failing paths, samples and a verdict (exit 2)', async () => {
    const run = await cli([]);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/^mail\s+sendEmail\s+5\s+5\s+2\s+1\s+1\s+0\s+1$/m);
    expect(run.stdout).toMatch(/^mail\s+legacyPing\*\s+1\s+1\s+1\s+0\s+0\s+0\s+0$/m);
    expect(run.stdout).toMatch(/^media\s+resize\s+301\s+0/m);
    expect(run.stdout).toMatch(/^subject\s+invalid_type\s+5\s+Invalid input: expected string/m);
    expect(run.stdout).toContain(`(${'dead'})`);
    expect(run.stdout).toMatch(/6 of 307 stored job\(s\) would fail at dequeue/);
  });

  it('passes (exit 0) on a queue whose stored jobs all parse, and applies the workers\' payload limit', async () => {
    const ok = await cli(['--queue', 'media', '--page-size', '50', '--rate', '100000']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/ok: all 301 stored job\(s\) in 1 queue\(s\) parse/);

    const limited = json(await cli(['--queue', 'media', '--max-payload-bytes', '1000', '--json']));
    expect(limited.verdict).toBe('would_fail');
    const resize = typeOf(limited, 'media', 'resize');
    expect(resize).toMatchObject({ failing: 1, reasons: { invalid_payload: 1 } });
    expect(resize?.samples).toEqual([{ id: stored.big, state: 'waiting', reason: 'invalid_payload', issues: [expect.objectContaining({ path: '', code: 'too_big' })] }]);

    const noDead = json(await cli(['--queue', 'mail', '--no-dead', '--json']));
    expect(noDead).toMatchObject({ dead: false, failing: 5 });
    expect(typeOf(noDead, 'mail', 'sendEmail')?.failingBy.dead).toBe(0);
  });

  it('prints stored names, ids and messages escaped: nothing a terminal would interpret', async () => {
    const hostile = 'x\u001b[2J\u009b31m\u202eevil';
    await raw.hset(queueKeys(prefix, 'evil').jobs, `id-${hostile}`, JSON.stringify({ n: `job${hostile}`, t: 1, p: { [hostile]: 1 } }));
    const run = await cli(['--queue', 'evil']);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('jobx\\x1b[2J\\x9b31m\\u202eevil');
    expect(run.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    const body = await cli(['--queue', 'evil', '--json']);
    expect(json(body).queues[0]?.jobs[0]?.job).toBe(`job${hostile}`);
    expect(body.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
  });

  it('refuses options that do not go together (exit 1)', async () => {
    const against = await cli(['--against', 'HEAD']);
    expect(against.code).toBe(1);
    expect(against.stderr).toMatch(/--against compares lockfiles/);
    const page = await cli(['--page-size', '0']);
    expect(page.code).toBe(1);
    expect(page.stderr).toMatch(/--page-size must be 1 to 10000/);
    const notLive = await runCli(['check', '--schema', NEW_SCHEMA, '--redis', redisUrl()], { NO_COLOR: '1' });
    expect(notLive.code).toBe(1);
    expect(notLive.stderr).toMatch(/--redis applies to --live only/);
    // Redis unreachable: exit 1 with one line naming the address and the cause, no ioredis stack.
    const down = await cli([], 'redis://127.0.0.1:1');
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^error: RedisUnavailableError: checkStoredJobs: Redis at redis:\/\/127\.0\.0\.1:1 is unreachable: connect ECONNREFUSED/);
    expect(down.stderr).not.toMatch(/Unhandled error event/);
  });

  it('reaches the verdict a worker of the new code reaches: it dead-letters exactly the jobs named, with the same reasons', async () => {
    const report = json(await cli(['--json', '--queue', 'mail']));
    const named = new Map<string, string>();
    for (const t of report.queues[0]?.jobs ?? []) for (const s of t.samples) if (s.state !== 'dead') named.set(s.id, s.reason);
    expect(named.size).toBe(5);

    // Every live job made due now, then a worker running the new job set takes them all.
    const jobs = newJobs() as JobSet;
    const admin = createAdmin({ redis: redisUrl(), prefix, jobs });
    await admin.bulk({ action: 'promote', queue: 'mail', all: true });
    await admin.close();
    const worker = createWorker(newJobs(), { sendEmail: () => {} }, { redis: redisUrl(), prefix, logger: false, queues: ['mail'] });
    const k = queueKeys(prefix, 'mail');
    await waitFor(async () => (await raw.hlen(k.jobs)) === 0, 'the mail queue to drain', 30_000);
    await worker.close();
    const info = await raw.hgetall(k.deadInfo);
    const reasons = new Map(Object.entries(info).filter(([id]) => id !== stored.dead).map(([id, text]) => [id, (JSON.parse(text) as { reason: string }).reason]));
    expect(reasons).toEqual(named);
  });
});

describe('jobcraft check --live as the documented read-only Redis user', { timeout: 120_000 }, () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedisServer();
  }, 30_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('does its work with only the read commands of docs/contracts.md, and Ctrl-C stops it with exit 130 and no verdict', async () => {
    const docs = readFileSync(new URL('../docs/contracts.md', import.meta.url), 'utf8');
    const line = docs.split('\n').find((l) => l.startsWith('ACL SETUSER jobcraft-livecheck '));
    expect(line, 'docs/contracts.md has an "ACL SETUSER jobcraft-livecheck" line').toBeDefined();
    const admin = new Redis(server.url);
    const p = 'jobcraft';
    await admin.call('ACL', 'SETUSER', ...(line as string).split(/\s+/).slice(2).map((a) => a.replace('jobcraft:*', `${p}:*`)));
    const s = await storeOldJobs(server.url, p);
    const before = await snapshot(admin, p);
    await admin.call('ACL', 'LOG', 'RESET');
    const url = `redis://jobcraft-livecheck:livecheck-secret@127.0.0.1:${server.port}`;
    const run = await runCli(['check', '--live', '--schema', NEW_SCHEMA, '--json'], { REDIS_URL: url, JOBCRAFT_PREFIX: p, NO_COLOR: '1' });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(2);
    const report = json(run);
    expect(typeOf(report, 'mail', 'sendEmail')).toMatchObject({ failing: 5, failingBy: { waiting: 2, delayed: 1, retrying: 1, dead: 1 } });
    expect(typeOf(report, 'mail', 'legacyPing')?.failing).toBe(1);
    expect(await admin.call('ACL', 'LOG')).toEqual([]);
    expect(await snapshot(admin, p)).toEqual(before);
    void s;

    // Ctrl-C: one job per page at one job a second, interrupted once the scan has begun (its connection has sent HSCAN).
    const interrupted = await runCli(['check', '--live', '--schema', NEW_SCHEMA, '--json', '--page-size', '1', '--rate', '1', '--queue', 'media'], { REDIS_URL: url, JOBCRAFT_PREFIX: p, NO_COLOR: '1' }, (child) => {
      void waitFor(async () => /cmd=hscan/.test((await admin.client('LIST')) as string), 'the check to start scanning', 60_000).then(() => child.kill('SIGINT'));
    });
    expect(interrupted.code).toBe(130);
    const partial = json(interrupted);
    expect(partial).toMatchObject({ verdict: 'interrupted', interrupted: true });
    expect(partial.scanned).toBeLessThan(MEDIA + 1);
    admin.disconnect();
  });
});
