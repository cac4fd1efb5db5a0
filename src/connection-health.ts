import { Cluster, type Redis } from 'ioredis';
import type { Logger } from './logger.js';
import type { RedisConnection } from './redis.js';

/** While connecting keeps failing, the warning is repeated at most this often (the first one comes at once). */
export const CONNECTION_WARNING_REPEAT_MS = 30_000;
/** A failure with a different cause is reported at once, but at most this often. */
const NEW_CAUSE_MIN_MS = 5_000;

interface ErrnoLike {
  readonly code?: unknown;
  readonly message?: unknown;
}

const CERT_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|HOSTNAME|ALTNAME|DEPTH_ZERO/;

/**
 * Turns a connection error into a cause a person can act on. `handshaking`: the TCP connection was open but Redis
 * had not answered yet; `tls`: the connection is meant to use TLS.
 */
export function explainConnectionError(err: unknown, where: string, handshaking: boolean, tls: boolean): string {
  const e = (typeof err === 'object' && err !== null ? err : {}) as ErrnoLike;
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (code === 'ECONNREFUSED') return `${message}: nothing listens at ${where} (is Redis running, and on this port?)`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `${message}: the host name does not resolve`;
  if (code === 'ETIMEDOUT') return `${message}: no answer from ${where} (a firewall, or the wrong host?)`;
  if (CERT_CODES.test(code)) {
    return `TLS certificate check failed: ${message} (${code}); give the CA that signed the server's certificate as tls.ca, and connect by a name the certificate holds`;
  }
  if (tls && /before secure TLS connection|wrong version number|EPROTO|ssl3_get_record|packet length too long/i.test(`${code} ${message}`)) {
    return `TLS handshake failed: ${message}; the server may not serve TLS on this port (use a redis:// URL for a plain port)`;
  }
  if (!tls && handshaking && /ECONNRESET|EPIPE|Connection is closed/i.test(`${code} ${message}`)) {
    return `the server closed the connection before answering (${message}); it looks like a TLS port: use a rediss:// URL (or the tls option)`;
  }
  if (/WRONGPASS|NOAUTH|invalid username-password/i.test(message)) return `authentication failed: ${message}`;
  return message;
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
  private warned = false;
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
        if (!noise(err)) this.failed(explainConnectionError(err, String(node), false, tls));
      });
      redis.on('error', (err: unknown) => {
        if (!noise(err)) this.failed(explainConnectionError(err, this.where, false, tls));
      });
      redis.on('ready', () => this.connected());
      return;
    }
    const tls = redis.options.tls !== undefined;
    const at = `${redis.options.host ?? '127.0.0.1'}:${redis.options.port ?? 6379}`;
    let handshaking = false;
    redis.on('connect', () => (handshaking = true));
    redis.on('ready', () => {
      handshaking = false;
      this.connected();
    });
    redis.on('error', (err: unknown) => {
      guardSocket(redis);
      const cause = explainConnectionError(err, at, handshaking, tls);
      handshaking = false;
      this.failed(cause);
    });
    // A server may also hang up without an error on our side (a clean close before it answered anything).
    redis.on('close', () => {
      if (!handshaking) return;
      handshaking = false;
      this.failed(explainConnectionError(new Error('Connection is closed.'), at, true, tls));
    });
  }

  private failed(cause: string): void {
    this.failures++;
    this.cause = cause;
    const now = Date.now();
    const repeat = now - this.lastWarnAt >= CONNECTION_WARNING_REPEAT_MS;
    const newCause = cause !== this.lastWarnedCause && now - this.lastWarnAt >= NEW_CAUSE_MIN_MS;
    if (!repeat && !newCause) return;
    const first = !this.warned;
    this.warned = true;
    this.lastWarnAt = now;
    this.lastWarnedCause = cause;
    this.logger.warn(
      first
        ? `cannot connect to Redis at ${this.where}: ${cause}; retrying (nothing runs or is recorded until it connects)`
        : `still cannot connect to Redis at ${this.where} (${this.failures} failed attempts so far): ${cause}`,
    );
  }

  private connected(): void {
    if (this.warned) this.logger.warn(`connected to Redis at ${this.where} again after ${this.failures} failed attempt(s)`);
    this.warned = false;
    this.failures = 0;
    this.cause = undefined;
    this.lastWarnAt = -Infinity;
    this.lastWarnedCause = undefined;
  }
}
