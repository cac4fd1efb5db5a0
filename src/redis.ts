import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis';
import { withTimeout } from './timeout.js';

/** A Redis Cluster to connect to: its seed nodes and ioredis cluster options. */
export interface ClusterConfig {
  readonly cluster: readonly ClusterNode[];
  readonly options?: ClusterOptions;
}

/**
 * Where Redis is: a URL (`redis://host:6379/0`), ioredis options, an ioredis `Redis` or `Cluster` instance you
 * manage yourself, or a {@link ClusterConfig}. Default: the `REDIS_URL` environment variable, else
 * `redis://127.0.0.1:6379`.
 */
export type RedisConfig = string | RedisOptions | Redis | Cluster | ClusterConfig;

/** A connection of either kind. */
export type RedisConnection = Redis | Cluster;

/** The URL used when no `redis` option is given. */
export function defaultRedisUrl(): string {
  return process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/** How a connection will be used, which decides its retry settings. */
export type ConnectionRole = 'client' | 'worker' | 'blocking';

function roleOptions(role: ConnectionRole, unpipelined: readonly string[]): RedisOptions {
  switch (role) {
    // Enqueue calls fail fast (the client adds its own time limit); auto-pipelining batches concurrent calls, except
    // `unpipelined`: the client's own grouped enqueues, which go at once (scripts.ts ENQUEUE_NOW), and a wait's lone
    // result read (RESULT_NOW). A command whose reply a dropped connection
    // lost is never resent: it may have run, and a resent enqueue would write the job twice (EnqueueUnconfirmedError).
    case 'client':
      return {
        enableAutoPipelining: true,
        autoPipeliningIgnoredCommands: [...unpipelined],
        maxRetriesPerRequest: 2,
        autoResendUnfulfilledCommands: false,
      };
    // Worker calls wait through a Redis outage and complete after ioredis reconnects: no job state is lost.
    case 'worker':
      return { maxRetriesPerRequest: null };
    // No command timeout: a blocking read waits longer than any sensible one, and a parked fetch the client gave up
    // on would still lease jobs in Redis.
    case 'blocking':
      return { maxRetriesPerRequest: null, enableAutoPipelining: false, commandTimeout: undefined };
  }
}

/** A connection plus whether we created it (and so must close it). */
export interface OwnedConnection {
  readonly redis: RedisConnection;
  readonly owned: boolean;
}

function isConnection(value: unknown): value is RedisConnection {
  return value instanceof Redis || value instanceof Cluster;
}

function isClusterConfig(value: unknown): value is ClusterConfig {
  return typeof value === 'object' && value !== null && Array.isArray((value as ClusterConfig).cluster);
}

/**
 * Opens (or reuses) a connection for `role`. A connection the caller passed in is used as is for commands and
 * duplicated for blocking reads (a blocked connection cannot serve anything else). `unpipelined`: commands a client
 * connection sends at once, never auto-pipelined (given by the caller, so this module needs none of scripts.ts).
 * `clusterUnpipelined`: more such commands on a Cluster connection only — the scripts whose number of keys varies
 * (scripts.ts VARIABLE_KEY_COMMANDS), which ioredis would group with another slot's calls.
 */
export function connect(
  config: RedisConfig | undefined,
  role: ConnectionRole,
  unpipelined: readonly string[] = [],
  clusterUnpipelined: readonly string[] = [],
): OwnedConnection {
  const extra = roleOptions(role, unpipelined);
  if (isConnection(config)) {
    if (role !== 'blocking') return { redis: config, owned: false };
    return { redis: config instanceof Cluster ? config.duplicate() : config.duplicate(extra), owned: true };
  }
  if (isClusterConfig(config)) {
    const options = config.options ?? {};
    return {
      redis: new Cluster([...config.cluster], {
        ...options,
        enableAutoPipelining: extra.enableAutoPipelining ?? options.enableAutoPipelining,
        autoPipeliningIgnoredCommands: [
          ...(options.autoPipeliningIgnoredCommands ?? []),
          ...(extra.autoPipeliningIgnoredCommands ?? []),
          ...(extra.enableAutoPipelining === true ? clusterUnpipelined : []),
        ],
        // A client's command cut off by a closed node connection fails instead of being sent again (see roleOptions).
        ...(role === 'client' ? { retryDelayOnFailover: 0 } : {}),
        redisOptions: {
          ...options.redisOptions,
          maxRetriesPerRequest: extra.maxRetriesPerRequest,
          ...(role === 'client' ? { autoResendUnfulfilledCommands: false } : {}),
        },
      }),
      owned: true,
    };
  }
  const base: RedisOptions = { lazyConnect: false, ...extra };
  const redis =
    config === undefined || typeof config === 'string' ? new Redis(config ?? defaultRedisUrl(), base) : new Redis({ ...base, ...config, ...extra });
  if (role === 'client') failInFlightOnClose(redis);
  return { redis, owned: true };
}

/**
 * Rejects the commands in flight when the connection closes. Without a resend (autoResendUnfulfilledCommands: false)
 * ioredis would drop them silently and their callers would wait for the time-out; this way they fail at once with
 * "Connection is closed." (their outcome unknown), while commands not sent yet still wait for the reconnect.
 */
function failInFlightOnClose(redis: Redis): void {
  redis.on('close', () => {
    for (let item = redis.commandQueue.shift(); item !== undefined; item = redis.commandQueue.shift()) {
      item.command.reject(new Error('Connection is closed.'));
    }
  });
}

/**
 * Closes a connection if we own it: politely (QUIT) when it is up, at once otherwise. QUIT gets `timeoutMs` to be
 * answered (a link that looks up may be dead); 0 disconnects at once.
 */
export async function release(conn: OwnedConnection, timeoutMs = 1_000): Promise<void> {
  if (!conn.owned) return;
  if (conn.redis.status === 'ready' && timeoutMs > 0) {
    await withTimeout(conn.redis.quit(), timeoutMs, 'QUIT', describeConnection(conn.redis)).catch(() => conn.redis.disconnect());
  } else {
    conn.redis.disconnect();
  }
}

/** Where a connection points, for messages: `rediss://` when it uses TLS; never includes a password. */
export function describeConnection(redis: RedisConnection): string {
  if (redis instanceof Cluster) return redis.options.redisOptions?.tls === undefined ? 'Redis Cluster' : 'Redis Cluster (TLS)';
  const { host, port, db, path, tls, sentinels, name } = redis.options;
  if (path !== undefined && path !== null) return `unix:${path}`;
  // Through Sentinel, host and port are not used: the master's name is what the user configured.
  if (Array.isArray(sentinels) && sentinels.length > 0) return `sentinel://${name ?? 'mymaster'}${tls === undefined ? '' : ' (TLS)'}${db ? `/${db}` : ''}`;
  return `${tls === undefined ? 'redis' : 'rediss'}://${host ?? '127.0.0.1'}:${port ?? 6379}${db ? `/${db}` : ''}`;
}
