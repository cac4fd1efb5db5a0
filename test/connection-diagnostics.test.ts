/**
 * Connection diagnostics beyond "nothing listens": a wrong password reaches the caller as RedisUnavailableError naming
 * the cause, and a worker leaves no listeners on a connection it was given.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { RedisUnavailableError, createClient, createWorker, defineJobs } from '../src/index.js';
import { startRedisServer, type RedisServer } from '../scripts/redis-server.js';
import { cleanupRegistry, testPrefix } from './helpers.js';

const jobs = defineJobs({ ping: { payload: z.object({ n: z.number() }) } });
const defer = cleanupRegistry();

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
}, 30_000);
afterAll(async () => {
  await server?.stop();
});

describe('a wrong password', () => {
  it('fails enqueue and reads with RedisUnavailableError naming the authentication failure, not a raw ReplyError', async () => {
    const admin = new Redis(server.url);
    defer(() => admin.disconnect());
    await admin.call('ACL', 'SETUSER', 'jc-auth', 'on', '>right', '~*', '+@all');
    const client = createClient(jobs, { redis: { host: '127.0.0.1', port: server.port, username: 'jc-auth', password: 'wrong' }, logger: false, timeout: '20s' });
    defer(() => client.close());
    for (const call of [() => client.enqueue('ping', { n: 1 }), () => client.getJob('x')]) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RedisUnavailableError);
      expect((err as Error).message).toMatch(/authentication failed: WRONGPASS/);
      expect((err as Error).message).toContain(`redis://127.0.0.1:${server.port}`);
      expect((err as Error).message).toMatch(/nothing was written/);
    }
  });
});

describe('dead-letter and schedule calls', () => {
  it('are bounded by the client timeout like every other call (Redis frozen)', async () => {
    const frozen = await startRedisServer();
    defer(() => frozen.stop());
    defer(() => void (frozen.process.exitCode === null && frozen.process.kill('SIGCONT')));
    const client = createClient(jobs, { redis: frozen.url, prefix: testPrefix('dlqbound'), timeout: 300, logger: false });
    defer(() => client.close());
    expect(await client.deadLetters.count('default')).toBe(0); // connected
    frozen.process.kill('SIGSTOP');
    const calls = [
      () => client.deadLetters.count('default'),
      () => client.deadLetters.list('default'),
      () => client.deadLetters.retry('x'),
      () => client.deadLetters.retryAll('default'),
      () => client.deadLetters.delete('x', 'default'),
      () => client.deadLetters.purge('default'),
    ];
    // Before: these had no time limit and waited for the frozen Redis forever.
    const errors = await Promise.all(calls.map((call) => call().then(() => undefined, (e: unknown) => e)));
    for (const err of errors) {
      expect(err).toBeInstanceOf(RedisUnavailableError);
      expect((err as Error).message).toMatch(/deadLetters.*did not answer within 300 ms/);
    }
    frozen.process.kill('SIGCONT');
  });
});

describe('a connection passed in', () => {
  it('keeps no listeners of a closed worker', async () => {
    const redis = new Redis(server.url);
    defer(() => redis.disconnect());
    const events = ['error', 'ready', 'close', 'connect', 'end'] as const;
    const count = (): number[] => events.map((e) => redis.listenerCount(e));
    const before = count();
    const worker = createWorker(jobs, { ping: () => {} }, { redis, prefix: testPrefix('passedin'), logger: false });
    await worker.ready;
    await worker.close();
    expect(count()).toEqual(before);
  });
});
