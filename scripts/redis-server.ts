/**
 * Finds a Redis for the demo and the tests: `REDIS_URL` (default redis://127.0.0.1:6379) if it answers, otherwise a
 * throwaway `redis-server` on a free loopback port in a temporary folder, stopped again by `stop()`. Also starts
 * extra servers for tests that need their own (restarts, persistence).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A Redis to use, and how to let it go. */
export interface RedisHandle {
  readonly url: string;
  /** Stops the server if we started it. */
  stop(): Promise<void>;
}

/** Sends PING over a raw socket (TLS for `rediss://`, certificate unchecked); true if Redis answered within `ms`. */
export function ping(url: string, ms = 1_000, clientCert?: { cert: Buffer; key: Buffer }): Promise<boolean> {
  const u = new URL(url);
  const port = Number(u.port || 6379);
  const host = u.hostname || '127.0.0.1';
  return new Promise((resolve) => {
    const socket = u.protocol === 'rediss:' ? tlsConnect({ port, host, rejectUnauthorized: false, ...clientCert }) : new Socket();
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(ms, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG') || data.toString().startsWith('-NOAUTH')));
    if (u.protocol === 'rediss:') socket.once('secureConnect', () => socket.write('PING\r\n'));
    else (socket as Socket).connect(port, host, () => socket.write('PING\r\n'));
  });
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Whether `redis-server` is on the PATH. */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Options for a server of our own. */
export interface ServerOptions {
  /** Turn on the append-only file (fsync every write), so data survives a restart. */
  readonly aof?: boolean;
  /** Reuse this folder (to restart a server on its own files); a new temporary one otherwise. */
  readonly dir?: string;
  /** Reuse this port. */
  readonly port?: number;
  /** Serve TLS only (`--port 0 --tls-port`): the URL is then `rediss://`. */
  readonly tls?: ServerTls;
  /** More redis-server arguments, e.g. `['--aclfile', path]`. */
  readonly args?: readonly string[];
}

/** TLS files of a server: PEM paths. */
export interface ServerTls {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  /** Require a client certificate signed by `caFile` (then give one below, for the start-up ping). Default false. */
  readonly authClients?: boolean;
  readonly clientCertFile?: string;
  readonly clientKeyFile?: string;
}

/** A redis-server process we started. */
export interface RedisServer extends RedisHandle {
  readonly port: number;
  readonly dir: string;
  readonly process: ChildProcess;
  /** Stops the process but keeps its folder (for a restart on the same files). */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts a redis-server on a free loopback port and waits until it answers. */
export async function startRedisServer(options: ServerOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'jobcraft-redis-'));
  const tls = options.tls;
  const listen = tls === undefined ? ['--port', String(port)] : ['--port', '0', '--tls-port', String(port)];
  const args = [...listen, '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no', '--logfile', ''];
  args.push(...(options.aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
  if (tls !== undefined) {
    args.push('--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile, '--tls-ca-cert-file', tls.caFile);
    args.push('--tls-auth-clients', tls.authClients ? 'yes' : 'no');
  }
  args.push(...(options.args ?? []));
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const url = `${tls === undefined ? 'redis' : 'rediss'}://127.0.0.1:${port}`;
  const cert = tls?.clientCertFile && tls.clientKeyFile ? { cert: readFileSync(tls.clientCertFile), key: readFileSync(tls.clientKeyFile) } : undefined;
  for (let i = 0; i < 100 && !(await ping(url, 200, cert)); i++) await new Promise((r) => setTimeout(r, 50));
  if (!(await ping(url, 500, cert))) {
    child.kill('SIGKILL');
    throw new Error(`redis-server did not start on port ${port}`);
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    url,
    port,
    dir,
    process: child,
    kill,
    stop: async () => {
      await kill();
      if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** PEM files made by {@link createTestCertificates}. */
export interface TestCertificates {
  readonly dir: string;
  /** The self-signed CA that signed the others. */
  readonly caFile: string;
  /** Server certificate for 127.0.0.1 and localhost, and its key. */
  readonly certFile: string;
  readonly keyFile: string;
  /** A client certificate (for `tls-auth-clients yes`), and its key. */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** A second CA that signed nothing here: trusting only it must fail the certificate check. */
  readonly otherCaFile: string;
  /** Deletes the folder. */
  remove(): void;
}

/** Makes a throwaway CA, a server and a client certificate with `openssl` in a temporary folder (for TLS tests). */
export function createTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'jobcraft-tls-'));
  const f = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr || r.error?.message}`);
  };
  const ca = (name: string, cn: string): void =>
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.crt`), '-days', '2', '-subj', `/CN=${cn}`);
  ca('ca', 'jobcraft test CA');
  ca('other-ca', 'jobcraft unrelated CA');
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  writeFileSync(f('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [['server', '127.0.0.1'], ['client', 'jobcraft test client']] as const) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`);
    openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.crt`), '-days', '2', '-extfile', f(`${name}.ext`));
  }
  return {
    dir,
    caFile: f('ca.crt'),
    certFile: f('server.crt'),
    keyFile: f('server.key'),
    clientCertFile: f('client.crt'),
    clientKeyFile: f('client.key'),
    otherCaFile: f('other-ca.crt'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * The Redis to use: `REDIS_URL` (or the default local one) if it answers; else a throwaway server when
 * redis-server is installed; else an error with one line saying how to provide Redis.
 */
export async function ensureRedis(): Promise<RedisHandle> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await ping(url)) return { url, stop: async () => {} };
  if (!hasRedisServer()) {
    throw new Error(
      `No Redis answers at ${url} and redis-server is not installed: start Redis there, set REDIS_URL to one that runs, or install redis-server (e.g. apt-get install redis-server).`,
    );
  }
  const server = await startRedisServer();
  return { url: server.url, stop: server.stop };
}
