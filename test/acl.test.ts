/**
 * Least-privilege Redis users: the ACLs documented in docs/configuration.md ("Redis users and ACLs") are read from
 * the docs, created on a redis-server started here, and a producer and a worker run jobs with them. A user missing
 * one command (TIME, which the scripts call) is refused at start with an error that names it; a user that may not
 * read the eviction policy gets a warning that says the check was skipped.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { PermanentError, RedisConfigurationError, createClient, createWorker, defineJobs, type Logger } from '../src/index.js';
import { startRedisServer, type RedisServer } from '../scripts/redis-server.js';
import { cleanupRegistry, waitFor } from './helpers.js';

const jobs = defineJobs({
  work: { payload: z.object({ n: z.number() }), attempts: 1 },
  nightly: { payload: z.object({}), cron: '0 3 * * *', queue: 'cron' },
});
const defer = cleanupRegistry();
const PREFIX = 'jobcraft';

/** The two ACL SETUSER lines of the docs, as argument lists. */
function documentedAcl(user: 'jobcraft-worker' | 'jobcraft-producer'): string[] {
  const docs = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8');
  const line = docs.split('\n').find((l) => l.startsWith(`ACL SETUSER ${user} `));
  if (line === undefined) throw new Error(`docs/configuration.md has no "ACL SETUSER ${user}" line`);
  return line.split(/\s+/).slice(2);
}

function recorder(): { logger: Logger; warnings: string[]; errors: string[] } {
  const warnings: string[] = [];
  const errors: string[] = [];
  return { warnings, errors, logger: { debug: () => {}, info: () => {}, warn: (m) => void warnings.push(m), error: (m) => void errors.push(m) } };
}

let server: RedisServer;
let admin: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  await admin.call('ACL', 'SETUSER', ...documentedAcl('jobcraft-worker'));
  await admin.call('ACL', 'SETUSER', ...documentedAcl('jobcraft-producer'));
}, 30_000);

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

const as = (user: string, password: string) => ({ host: '127.0.0.1', port: server.port, username: user, password });

describe('the documented least-privilege ACLs', () => {
  it('let a producer and a worker do their work, with no warning', async () => {
    await admin.call('ACL', 'LOG', 'RESET');
    const plog = recorder();
    const wlog = recorder();
    const client = createClient(jobs, { redis: as('jobcraft-producer', 'producer-secret'), prefix: PREFIX, logger: plog.logger });
    defer(() => client.close());
    const ran: number[] = [];
    const worker = createWorker(
      jobs,
      {
        work: ({ n }) => {
          ran.push(n);
          if (n === 3) throw new PermanentError('no');
        },
        nightly: () => {},
      },
      { redis: as('jobcraft-worker', 'worker-secret'), prefix: PREFIX, logger: wlog.logger },
    );
    defer(() => worker.close());
    await worker.ready;
    const a = await client.enqueue('work', { n: 1 });
    await client.enqueueMany('work', [{ n: 2 }, { n: 3 }]);
    await client.enqueue('work', { n: 4 }, { delay: 50, jobId: 'delayed-4' });
    await waitFor(() => ran.length === 4, 'four jobs to run');
    await waitFor(async () => (await client.deadLetters.count('default')) === 1, 'the failed job to be dead');
    await waitFor(async () => (await client.getJob(a.id)).state === 'completed', 'the first job to be completed');
    await client.pause('default');
    expect(await client.isPaused('default')).toBe(true);
    expect(await client.resume('default')).toBe(true);
    const dead = await client.deadLetters.list('default');
    expect(await client.deadLetters.retry(dead[0]?.id as string)).toBe(true);
    await waitFor(() => ran.filter((n) => n === 3).length === 2, 'the retried dead letter to run again');
    const later = await client.enqueue('work', { n: 5 }, { delay: '1h' });
    expect(await client.cancel(later.id)).toBe('cancelled');
    expect(plog.warnings).toEqual([]);
    expect(wlog.warnings).toEqual([]);
    expect(wlog.errors).toEqual([]);
    // Nothing was refused along the way, not even what ioredis ignores (CLIENT SETINFO): the ACL log stays empty.
    await worker.close();
    await client.close();
    const log = (await admin.call('ACL', 'LOG')) as unknown[];
    expect(log.map((entry) => JSON.stringify(entry))).toEqual([]);
  });

  it('a worker whose user lacks TIME refuses to start, naming TIME; a producer warns, naming it', async () => {
    await admin.call('ACL', 'SETUSER', 'no-time', ...documentedAcl('jobcraft-worker').slice(1), '-time');
    const wlog = recorder();
    const worker = createWorker(jobs, { work: () => {}, nightly: () => {} }, { redis: as('no-time', 'worker-secret'), prefix: PREFIX, logger: wlog.logger });
    defer(() => worker.close());
    const errorEvents: Error[] = [];
    worker.on('error', (e) => void errorEvents.push(e));
    const err = await worker.ready.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RedisConfigurationError);
    expect((err as RedisConfigurationError).reason).toBe('missing_permissions');
    expect((err as RedisConfigurationError).missingCommands).toEqual(['TIME']);
    expect((err as Error).message).toMatch(/may not run TIME/);
    expect(errorEvents).toEqual([err]);
    expect(wlog.errors.some((m) => m.includes('TIME'))).toBe(true);

    const plog = recorder();
    const client = createClient(jobs, { redis: as('no-time', 'worker-secret'), prefix: PREFIX, logger: plog.logger });
    defer(() => client.close());
    const warning = await waitFor(() => plog.warnings.find((w) => w.includes('TIME')), 'the permission warning');
    expect(warning).toMatch(/may not run TIME/);
  });

  it('a user limited to other keys is refused, naming the key pattern to grant', async () => {
    await admin.call('ACL', 'SETUSER', 'other-keys', ...documentedAcl('jobcraft-worker').slice(1).map((a) => (a === `~${PREFIX}:*` ? '~other:*' : a)));
    const worker = createWorker(jobs, { work: () => {}, nightly: () => {} }, { redis: as('other-keys', 'worker-secret'), prefix: PREFIX, logger: false });
    defer(() => worker.close());
    await expect(worker.ready).rejects.toThrow(/may not use .*HSET.* on keys? .*jobcraft:\{\w+\}:jobs.* \(grant ~<prefix>:\*\)/);
  });

  it('checks the key of every served queue and the cron registry, not only the first queue', async () => {
    const perQueue = documentedAcl('jobcraft-worker').slice(1).map((a) => (a === `~${PREFIX}:*` ? `~${PREFIX}:{default}:*` : a));
    await admin.call('ACL', 'SETUSER', 'one-queue', ...perQueue);
    const worker = createWorker(jobs, { work: () => {}, nightly: () => {} }, { redis: as('one-queue', 'worker-secret'), prefix: PREFIX, logger: false });
    defer(() => worker.close());
    const err = await worker.ready.then(
      () => undefined,
      (e: unknown) => e,
    );
    // Before: only the first queue's key was checked, the worker started and failed with NOPERM on the cron queue.
    expect(err).toBeInstanceOf(RedisConfigurationError);
    expect((err as Error).message).toMatch(/on keys .*jobcraft:\{cron\}:jobs/);
    expect((err as Error).message).toMatch(/jobcraft:cron-queues/);
    expect((err as Error).message).not.toMatch(/jobcraft:\{default\}:jobs/);
  });

  it('a database number needs SELECT: without +select the worker is refused (ioredis would quietly use db 0)', async () => {
    const worker = createWorker(jobs, { work: () => {}, nightly: () => {} }, {
      redis: { ...as('jobcraft-worker', 'worker-secret'), db: 3 },
      prefix: PREFIX,
      logger: false,
    });
    defer(() => worker.close());
    const err = await worker.ready.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RedisConfigurationError);
    expect((err as RedisConfigurationError).missingCommands).toEqual(['SELECT']);
    expect((err as Error).message).toMatch(/may not run SELECT/);
  });

  it('a user that may not read the eviction policy gets one warning saying the check was skipped', async () => {
    await admin.call('ACL', 'SETUSER', 'no-config', ...documentedAcl('jobcraft-worker').slice(1), '-config|get', '-info');
    const wlog = recorder();
    const ran: number[] = [];
    const worker = createWorker(jobs, { work: ({ n }) => void ran.push(n), nightly: () => {} }, { redis: as('no-config', 'worker-secret'), prefix: PREFIX, logger: wlog.logger });
    defer(() => worker.close());
    await worker.ready;
    const client = createClient(jobs, { redis: as('jobcraft-producer', 'producer-secret'), prefix: PREFIX, logger: false });
    defer(() => client.close());
    await client.enqueue('work', { n: 10 });
    await waitFor(() => ran.includes(10), 'the job to run');
    expect(wlog.warnings).toHaveLength(1);
    expect(wlog.warnings[0]).toMatch(/could not read Redis maxmemory-policy/);
    expect(wlog.warnings[0]).toMatch(/CONFIG GET/);
  });
});
