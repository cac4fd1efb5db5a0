/**
 * A misconfigured worker or client says what is wrong: nothing listening, a TLS certificate it cannot verify, a
 * plain redis:// URL pointed at a TLS port. Each warns soon, naming the cause, once per outage rather than once per
 * retry. And `rediss://` with a CA, and with a client certificate, works end to end against a redis-server started
 * here with a self-signed CA.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { RedisUnavailableError, createClient, createWorker, defineJobs, type Logger } from '../src/index.js';
import { describeConnection } from '../src/redis.js';
import { createTestCertificates, freePort, startRedisServer, type RedisServer, type TestCertificates } from '../scripts/redis-server.js';
import { cleanupRegistry, testPrefix, waitFor } from './helpers.js';

const jobs = defineJobs({ ping: { payload: z.object({ n: z.number() }) } });
const defer = cleanupRegistry();

function recorder(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, logger: { debug: () => {}, info: () => {}, warn: (m) => void warnings.push(m), error: (m) => void warnings.push(m) } };
}

let certs: TestCertificates;
let tlsServer: RedisServer;
let mtlsServer: RedisServer;

beforeAll(async () => {
  certs = createTestCertificates();
  tlsServer = await startRedisServer({ tls: certs });
  mtlsServer = await startRedisServer({ tls: { ...certs, authClients: true } });
}, 60_000);

afterAll(async () => {
  await tlsServer?.stop();
  await mtlsServer?.stop();
  certs?.remove();
});

/** A TCP server that accepts connections and closes each at its first bytes, as a TLS port does with plain RESP. */
async function closingServer(): Promise<{ port: number; connections: () => number }> {
  let count = 0;
  const server: Server = createServer((socket: Socket) => {
    count++;
    socket.once('data', () => socket.destroy());
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port, connections: () => count };
}

describe('a worker that cannot connect warns, naming the cause', () => {
  it('nothing listening: ECONNREFUSED at host:port', async () => {
    const port = await freePort();
    const log = recorder();
    const worker = createWorker(jobs, { ping: () => {} }, { redis: `redis://127.0.0.1:${port}`, logger: log.logger });
    defer(() => worker.close());
    const warning = await waitFor(() => log.warnings.find((w) => w.includes('ECONNREFUSED')), 'a connection warning');
    expect(warning).toContain(`redis://127.0.0.1:${port}`);
    expect(warning).toMatch(/nothing listens/);
  });

  it('redis:// pointed at a TLS port: says the server closed the connection and to use rediss://, once for many retries', async () => {
    const fake = await closingServer();
    const log = recorder();
    const worker = createWorker(jobs, { ping: () => {} }, { redis: `redis://127.0.0.1:${fake.port}`, logger: log.logger });
    defer(() => worker.close());
    await waitFor(() => log.warnings.length > 0, 'a connection warning');
    expect(log.warnings[0]).toMatch(/closed the connection/);
    expect(log.warnings[0]).toMatch(/rediss:\/\//);
    // Two connections (command + blocking) retrying: many attempts, still one warning.
    await waitFor(() => fake.connections() >= 8, 'eight connection attempts');
    expect(log.warnings).toHaveLength(1);
  });

  it('the same against a real TLS redis-server', async () => {
    const log = recorder();
    const worker = createWorker(jobs, { ping: () => {} }, { redis: `redis://127.0.0.1:${tlsServer.port}`, logger: log.logger });
    defer(() => worker.close());
    const warning = await waitFor(() => log.warnings.find((w) => w.includes('closed the connection')), 'a connection warning');
    expect(warning).toMatch(/use a rediss:\/\/ URL/);
  });

  it('a certificate it cannot verify: names the certificate error', async () => {
    const log = recorder();
    const worker = createWorker(jobs, { ping: () => {} }, {
      redis: { host: '127.0.0.1', port: tlsServer.port, tls: { ca: readFileSync(certs.otherCaFile) } },
      logger: log.logger,
    });
    defer(() => worker.close());
    const warning = await waitFor(() => log.warnings.find((w) => w.includes('TLS certificate')), 'a certificate warning');
    expect(warning).toContain(`rediss://127.0.0.1:${tlsServer.port}`);
    expect(warning).toMatch(/self-signed certificate in certificate chain|unable to verify/i);
  });

  it("the client's error names the scheme and the real cause", async () => {
    const client = createClient(jobs, {
      redis: { host: '127.0.0.1', port: tlsServer.port, tls: { ca: readFileSync(certs.otherCaFile) } },
      timeout: '20s',
      logger: false,
    });
    defer(() => client.close());
    const err = await client.enqueue('ping', { n: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect((err as Error).message).toContain(`rediss://127.0.0.1:${tlsServer.port}`);
    expect((err as Error).message).toMatch(/TLS certificate check failed/);
    expect((err as Error).message).toMatch(/nothing was written/);
  });
});

describe('TLS (rediss://) with a self-signed CA', () => {
  it('runs a job with tls.ca, and describes the connection as rediss://', async () => {
    const redis = { host: '127.0.0.1', port: tlsServer.port, tls: { ca: readFileSync(certs.caFile) } };
    const prefix = testPrefix('tls');
    const log = recorder();
    const client = createClient(jobs, { redis, prefix, logger: log.logger });
    defer(() => client.close());
    const ran: number[] = [];
    const worker = createWorker(jobs, { ping: ({ n }) => void ran.push(n) }, { redis, prefix, logger: log.logger });
    defer(() => worker.close());
    await worker.ready;
    expect(describeConnection(client.redis)).toBe(`rediss://127.0.0.1:${tlsServer.port}`);
    await client.enqueue('ping', { n: 1 });
    await waitFor(() => ran.includes(1), 'the job to run over TLS');
    expect(log.warnings).toEqual([]);
  });

  it('runs a job with a client certificate when the server requires one (tls-auth-clients yes)', async () => {
    const tls = { ca: readFileSync(certs.caFile), cert: readFileSync(certs.clientCertFile), key: readFileSync(certs.clientKeyFile) };
    const redis = { host: '127.0.0.1', port: mtlsServer.port, tls };
    const prefix = testPrefix('mtls');
    const client = createClient(jobs, { redis, prefix, logger: false });
    defer(() => client.close());
    const ran: number[] = [];
    const worker = createWorker(jobs, { ping: ({ n }) => void ran.push(n) }, { redis, prefix, logger: false });
    defer(() => worker.close());
    await client.enqueue('ping', { n: 2 });
    await waitFor(() => ran.includes(2), 'the job to run over mutual TLS');
  });

  it('a rediss:// URL string means TLS (checked against the system CAs, which do not know this test CA)', async () => {
    const log = recorder();
    const client = createClient(jobs, { redis: tlsServer.url, prefix: testPrefix('tlsurl'), logger: log.logger });
    defer(() => client.close());
    expect(describeConnection(client.redis)).toBe(tlsServer.url);
    const warning = await waitFor(() => log.warnings.find((w) => w.includes('TLS certificate')), 'a certificate warning');
    expect(warning).toContain(tlsServer.url);
  });
});
