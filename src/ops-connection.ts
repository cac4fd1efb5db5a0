/**
 * The connection of the read-only operations APIs (the Inspector, the live check): opened from the caller's config or
 * borrowed, watched without logging, and the errors of its calls turned into a {@link RedisUnavailableError} naming
 * the cause of the latest connection failure.
 */
import { ReplyError } from 'ioredis';
import { ConnectionHealth, isAuthFailure } from './connection-health.js';
import { InvalidArgumentError, RedisUnavailableError } from './errors.js';
import { silentLogger } from './logger.js';
import { connect, describeConnection, type OwnedConnection, type RedisConfig } from './redis.js';

/** An operations API's connection and what it knows of its failures. */
export interface OpsConnection {
  readonly conn: OwnedConnection;
  /** Keeps the cause of the latest connection failure (watches only a connection it opened). */
  readonly health: ConnectionHealth;
  /**
   * What a call named `what` throws for `err`: a bad argument, a Redis answer (a reply error) or an error already
   * saying Redis is unavailable as is; a refused login or any other failure as a RedisUnavailableError.
   */
  failure(what: string, err: unknown): unknown;
}

/** Opens (or borrows) a client connection for an operations API; `clusterUnpipelined` as in `connect`. */
export function openOpsConnection(config: RedisConfig | undefined, clusterUnpipelined: readonly string[] = []): OpsConnection {
  const conn = connect(config, 'client', [], clusterUnpipelined);
  const where = describeConnection(conn.redis);
  // Takes the place of a bare 'error' listener (ioredis prints unhandled ones, stack and all) and keeps the cause of
  // the latest connection failure, which the errors of the calls it fails name.
  const health = new ConnectionHealth(silentLogger, where);
  if (conn.owned) health.watch(conn.redis);
  return {
    conn,
    health,
    failure(what, err) {
      if (err instanceof InvalidArgumentError || err instanceof RedisUnavailableError) return err;
      if (err instanceof ReplyError) {
        const message = (err as Error).message;
        if (!isAuthFailure(message)) return err;
        return new RedisUnavailableError(`${what}: Redis at ${where} refused the connection: authentication failed: ${message} (check the user name and password)`, { cause: err });
      }
      return new RedisUnavailableError(`${what}: Redis at ${where} is unreachable: ${health.cause ?? (err as Error)?.message ?? String(err)}`, { cause: err });
    },
  };
}
