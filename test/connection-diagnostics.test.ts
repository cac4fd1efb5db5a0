/**
 * Connection diagnostics beyond "nothing listens": a wrong password reaches the caller as RedisUnavailableError naming
 * the cause, and a worker leaves no listeners on a connection it was given.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConnectionHealth } from '../src/connection-health.js';
import * as z from 'zod';
import { RedisUnavailableError, createClient, createWorker, defineJobs, type Logger } from '../src/index.js';
import { describeConnection } from '../src/redis.js';
import { createTestCertificates, freePort, startRedisServer, type RedisServer, type TestCertificates } from '../scripts/redis-server.js';
import { cleanupRegistry, testPrefix, waitFor } from './helpers.js';

const jobs = defineJobs({ ping: { payload: z.object({ n: z.number() }) } });
const defer = cleanupRegistry();

let server: RedisServer;
let certs: TestCertificates;
let mtlsServer: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
  certs = createTestCertificates();
  mtlsServer = await startRedisServer({ tls: { ...certs, authClients: true } });
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await mtlsServer?.stop();
  certs?.remove();
});

function recorder(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, logger: { debug: () => {}, info: () => {}, warn: (m) => void warnings.push(m), error: (m) => void warnings.push(m) } };
}

/** A TCP server on loopback that runs `onConnection` for each connection. */
async function fakeServer(onConnection: (socket: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>();
  const srv = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    onConnection(socket);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
  defer(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => srv.close(() => resolve()));
  });
  return port;
}

describe('connection warnings name the right cause', () => {
  it('a Redis that refuses the connection (protected mode) is named as a possible cause, not only TLS', async () => {
    const port = await fakeServer((s) => s.end('-DENIED Redis is running in protected mode because protected mode is enabled\r\n'));
    const log = recorder();
    const client = createClient(jobs, { redis: `redis://127.0.0.1:${port}`, logger: log.logger });
    defer(() => client.close());
    const warning = await waitFor(() => log.warnings[0], 'a connection warning');
    // Redis writes -DENIED and hangs up before any command: the close is all a client sees, so both causes are named.
    expect(warning).toMatch(/closed the connection before answering/);
    expect(warning).toMatch(/Redis refused the connection \(protected mode, maxclients: see the server's log\)/);
    expect(warning).not.toMatch(/looks like a TLS port/);
  });

  it('closing a client while it connects is no connection failure', async () => {
    const log = recorder();
    const client = createClient(jobs, { redis: server.url, logger: log.logger });
    const closed = new Promise<void>((resolve) => client.redis.once('connect', () => void client.close().then(resolve)));
    await closed;
    await new Promise((resolve) => setTimeout(resolve, 300)); // the close events have come and gone
    // Before: "cannot connect … it looks like a TLS port … retrying".
    expect(log.warnings).toEqual([]);
  });

  it('a server that requires a client certificate says so (one line), not "give the CA"', async () => {
    const log = recorder();
    const client = createClient(jobs, { redis: { host: '127.0.0.1', port: mtlsServer.port, tls: { ca: readFileSync(certs.caFile) } }, logger: log.logger });
    defer(() => client.close());
    const warning = await waitFor(() => log.warnings.find((w) => /certificate/.test(w)), 'a certificate warning');
    expect(warning).toMatch(/requires a client certificate|rejected the client certificate/);
    expect(warning).toMatch(/tls\.cert and tls\.key/);
    expect(warning).not.toMatch(/\n/);
  });

  it('rediss:// at a plain port: the TLS handshake went unanswered, the port serves plain Redis', async () => {
    const log = recorder();
    const client = createClient(jobs, { redis: { host: '127.0.0.1', port: server.port, tls: {}, connectTimeout: 1_000 }, logger: log.logger });
    defer(() => client.close());
    const warning = await waitFor(() => log.warnings[0], 'a connection warning');
    // Before: "no answer … (a firewall, or the wrong host?)".
    expect(warning).toMatch(/TLS handshake got no answer; the port probably serves plain Redis/);
  });

  it('an enqueue timed out before the client ever connected says it has not connected yet', async () => {
    const port = await fakeServer(() => {}); // accepts and never answers
    const client = createClient(jobs, { redis: `redis://127.0.0.1:${port}`, timeout: 300, logger: false });
    defer(() => client.close());
    const err = await client.enqueue('ping', { n: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect((err as Error).message).toMatch(/did not answer within 300 ms; the client has not connected to it yet/);
  });

  it('describes a Sentinel configuration by its master name', () => {
    const redis = new Redis({ sentinels: [{ host: '127.0.0.1', port: 1 }], name: 'jobs-master', lazyConnect: true });
    defer(() => redis.disconnect());
    expect(describeConnection(redis)).toBe('sentinel://jobs-master');
  });
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

describe('Cluster connection health', () => {
  it('one kind of failure on two nodes warns once; a node that connects again ends the incident', async () => {
    const log = recorder();
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    defer(() => cluster.disconnect());
    const health = new ConnectionHealth(log.logger, 'Redis Cluster');
    health.watch(cluster);
    const refused = (port: number): Error => Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${port}`), { code: 'ECONNREFUSED' });
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      cluster.emit('node error', refused(7001), '127.0.0.1:7001');
      vi.setSystemTime(Date.now() + 6_000);
      // Before: another node's address made it a "new cause", warned again every 5 s.
      cluster.emit('node error', refused(7002), '127.0.0.1:7002');
      expect(log.warnings).toHaveLength(1);
      expect(log.warnings[0]).toMatch(/cannot connect .*ECONNREFUSED/);
      // A node that is ready again (the cluster's own 'ready' does not come again after a node blip).
      const node = new Redis({ lazyConnect: true });
      defer(() => node.disconnect());
      cluster.emit('+node', node);
      node.emit('ready');
      expect(log.warnings[1]).toMatch(/connected to Redis at Redis Cluster again/);
      expect(health.cause).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });
});
