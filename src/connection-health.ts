import { Cluster, ReplyError, type Redis } from 'ioredis';
import type { Logger } from './logger.js';
import type { RedisConnection } from './redis.js';

/** Whether a Redis error says the credentials were refused (the connection never becomes usable). */
export function isAuthFailure(message: string): boolean {
  return /WRONGPASS|NOAUTH|invalid username-password/i.test(message);
}

/** While connecting keeps failing, the warning is repeated at most this often (the first one comes at once). */
const CONNECTION_WARNING_REPEAT_MS = 30_000;
/** A failure with a different cause is reported at once, but at most this often. */
const NEW_CAUSE_MIN_MS = 5_000;

interface ErrnoLike {
  readonly code?: unknown;
  readonly message?: unknown;
}

const CERT_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|HOSTNAME|ALTNAME|DEPTH_ZERO/;
/** TLS alerts the server sent: about our (client) certificate, not about the server's. */
const ALERT_CODES = /ALERT/;

/** What was known about the connection when it failed. */
export interface ConnectionState {
  /** The TCP connection was open but Redis had not answered yet. */
  readonly handshaking: boolean;
  /** The connection is meant to use TLS. */
  readonly tls: boolean;
  /** With TLS: the TCP connection was open (so a time-out was the TLS handshake going unanswered). */
  readonly tcpConnected?: boolean;
  /** Connections found through Sentinel: a close before ready may be its role check, not TLS. */
  readonly sentinel?: boolean;
}

/** Turns a connection error into a cause a person can act on, on one line. */
function explainConnectionError(err: unknown, where: string, state: ConnectionState): string {
  const e = (typeof err === 'object' && err !== null ? err : {}) as ErrnoLike;
  const code = typeof e.code === 'string' ? e.code : '';
  // OpenSSL messages span lines: a log line must not.
  const message = (typeof e.message === 'string' ? e.message : String(err)).replace(/\s+/g, ' ').trim();
  const { handshaking, tls } = state;
  if (code === 'ECONNREFUSED') return `${message}: nothing listens at ${where} (is Redis running, and on this port?)`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `${message}: the host name does not resolve`;
  if (code === 'ETIMEDOUT' && tls && state.tcpConnected === true) {
    return `${message}: the TCP connection to ${where} opened but the TLS handshake got no answer; the port probably serves plain Redis (use a redis:// URL, or the port Redis serves TLS on)`;
  }
  if (code === 'ETIMEDOUT') return `${message}: no answer from ${where} (a firewall, or the wrong host?)`;
  if (ALERT_CODES.test(code)) {
    const required = /CERTIFICATE_REQUIRED/.test(code);
    return `${required ? 'the server requires a client certificate' : 'the server rejected the client certificate'}: ${message} (${code}); give tls.cert and tls.key, a certificate signed by a CA the server trusts (its tls-ca-cert-file)`;
  }
  if (CERT_CODES.test(code)) {
    return `TLS certificate check failed: ${message} (${code}); give the CA that signed the server's certificate as tls.ca, and connect by a name the certificate holds`;
  }
  if (tls && /before secure TLS connection|wrong version number|EPROTO|ssl3_get_record|packet length too long/i.test(`${code} ${message}`)) {
    return `TLS handshake failed: ${message}; the server may not serve TLS on this port (use a redis:// URL for a plain port)`;
  }
  if (!tls && handshaking && state.sentinel !== true && /ECONNRESET|EPIPE|Connection is closed/i.test(`${code} ${message}`)) {
    return `the server closed the connection before answering (${message}): a TLS port (use a rediss:// URL or the tls option), or Redis refused the connection (protected mode, maxclients: see the server's log)`;
  }
  if (isAuthFailure(message)) return `authentication failed: ${message}`;
  return message;
}

/**
 * A cause without addresses and without the error detail in parentheses: two nodes failing the same way, or one
 * server hanging up seen once as ECONNRESET and once as a clean close, are one kind of cause, not two.
 */
function category(cause: string): string {
  return cause.replace(/\([^()]*\)/g, '()').replace(/\[[0-9a-f:.]*\]:\d+|[\w.-]+:\d{2,5}\b/gi, '<address>');
}

const guarded = new WeakSet<object>();

/**
 * ioredis listens `once` for a socket's errors; a failing TLS handshake can raise a second one (an alert from the
 * server), which would then crash the process as an unhandled error. Called from the first error, this catches the
 * rest (ioredis has already reported the connection as failed).
 */
function guardSocket(redis: Redis): void {
  const stream = redis.stream as (Redis['stream'] & object) | undefined;
  if (stream === undefined || stream === null || guarded.has(stream)) return;
  guarded.add(stream);
  stream.on('error', () => {});
}

/**
 * Watches the connections to one Redis (or Cluster) and tells the logger, naming the cause, while they cannot
 * connect: once at the first failure, then at most every {@link CONNECTION_WARNING_REPEAT_MS} while it lasts, and once
 * more when a connection is ready again. All connections of one worker or client share one watcher, so one outage is
 * one warning however many connections and retries it takes.
 */
export class ConnectionHealth {
  private failures = 0;
  private lastWarnAt = -Infinity;
  private lastWarnedCause: string | undefined;
  /** The cause of the latest failure; cleared once a connection is ready. */
  cause: string | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly where: string,
  ) {}

  /** Starts watching `redis`. Takes the place of a bare `error` listener (ioredis prints unhandled ones). */
  watch(redis: RedisConnection): void {
    if (redis instanceof Cluster) {
      const tls = redis.options.redisOptions?.tls !== undefined;
      // While the cluster is up, an error without a system code is a slot refresh that timed out under load, not a
      // connection that failed.
      const noise = (err: unknown): boolean => redis.status === 'ready' && typeof (err as ErrnoLike)?.code !== 'string';
      redis.on('node error', (err: unknown, node: unknown) => {
        for (const n of redis.nodes()) guardSocket(n);
        if (!noise(err)) this.failed(explainConnectionError(err, String(node), { handshaking: false, tls }));
      });
      redis.on('error', (err: unknown) => {
        if (!noise(err)) this.failed(explainConnectionError(err, this.where, { handshaking: false, tls }));
      });
      // The cluster's own 'ready' comes once; a node that connects again after a blip only says so on its own.
      redis.on('ready', () => this.connected());
      redis.on('+node', (node: Redis) => node.on('ready', () => this.connected()));
      return;
    }
    const options = redis.options;
    const tls = options.tls !== undefined;
    const sentinel = Array.isArray(options.sentinels) && options.sentinels.length > 0;
    const at = options.path ? `unix:${options.path}` : `${options.host ?? '127.0.0.1'}:${options.port ?? 6379}`;
    let handshaking = false;
    let tcpConnected = false;
    // ioredis's 'connect' comes after the TLS handshake; to tell a TLS handshake nobody answers from a host nobody
    // answers, watch the socket's own TCP connect (the socket exists once the connect attempt has begun).
    redis.on('connecting', () => {
      tcpConnected = false;
      if (!tls) return;
      setImmediate(() => {
        const stream = redis.stream as (Redis['stream'] & { connecting?: boolean }) | undefined;
        if (stream === undefined || stream === null) return;
        if (stream.connecting === false && !stream.destroyed) tcpConnected = true;
        else stream.once('connect', () => (tcpConnected = true));
      });
    });
    redis.on('connect', () => (handshaking = true));
    redis.on('ready', () => {
      handshaking = false;
      this.connected();
    });
    redis.on('error', (err: unknown) => {
      guardSocket(redis);
      // Closed on purpose (close() of the worker or client): not a failure.
      if (redis.status === 'end') return;
      // Redis refused a command of the connection set-up (e.g. SELECT without permission): the connection itself
      // works, so it is no reason to say it cannot connect. The start-up checks name the missing permission.
      if (err instanceof ReplyError && !isAuthFailure((err as Error).message)) {
        this.refused((err as Error).message);
        return;
      }
      const cause = explainConnectionError(err, at, { handshaking, tls, tcpConnected, sentinel });
      handshaking = false;
      this.failed(cause);
    });
    // A server may also hang up without an error on our side (a clean close before it answered anything).
    redis.on('close', () => {
      if (!handshaking) return;
      handshaking = false;
      if (redis.status === 'end') return; // closed by us (close() while connecting), not by the server
      this.failed(explainConnectionError(new Error('Connection is closed.'), at, { handshaking: true, tls, sentinel }));
    });
  }

  private readonly refusals = new Set<string>();

  /** Redis answered a set-up command with an error: said once per message. */
  private refused(message: string): void {
    if (this.refusals.has(message)) return;
    this.refusals.add(message);
    this.logger.warn(`Redis at ${this.where} refused a command while setting up the connection: ${message}`);
  }

  private failed(cause: string): void {
    this.failures++;
    this.cause = cause;
    const now = Date.now();
    const repeat = now - this.lastWarnAt >= CONNECTION_WARNING_REPEAT_MS;
    const newCause = category(cause) !== this.lastWarnedCause && now - this.lastWarnAt >= NEW_CAUSE_MIN_MS;
    if (!repeat && !newCause) return;
    const first = this.lastWarnAt === -Infinity;
    this.lastWarnAt = now;
    this.lastWarnedCause = category(cause);
    this.logger.warn(
      first
        ? `cannot connect to Redis at ${this.where}: ${cause}; retrying (nothing runs or is recorded until it connects)`
        : `still cannot connect to Redis at ${this.where} (${this.failures} failed attempts so far): ${cause}`,
    );
  }

  private connected(): void {
    if (this.failures === 0) return;
    if (this.lastWarnAt !== -Infinity) this.logger.warn(`connected to Redis at ${this.where} again after ${this.failures} failed attempt(s)`);
    this.failures = 0;
    this.cause = undefined;
    this.lastWarnAt = -Infinity;
    this.lastWarnedCause = undefined;
  }
}
