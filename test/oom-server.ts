/**
 * A redis-server of the test's own (scripts/redis-server.ts) with `maxmemory-policy noeviction`, started before the
 * file's tests and stopped after them, for the tests of what jobcraft does at Redis's memory limit.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect } from 'vitest';
import { startRedisServer, type RedisServer } from '../scripts/redis-server.js';

export interface OomServer {
  /** The server's URL (valid once the file's tests run). */
  readonly url: string;
  /** A plain connection to it, for setup and inspection. */
  readonly admin: Redis;
  /** Puts Redis over its memory limit: every write that may add data is refused from now on. */
  fill(): Promise<void>;
  /** Lifts the limit again. */
  free(): Promise<void>;
}

/** Registers the server's start and stop on the calling test file; read `url` and `admin` inside its tests. */
export function noevictionServer(): OomServer {
  let server: RedisServer | undefined;
  let admin: Redis | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
    admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
  });
  afterAll(async () => {
    admin?.disconnect();
    await server?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the OOM test server is not started yet: use it inside a test');
    return value;
  };
  return {
    get url() {
      return started(server).url;
    },
    get admin() {
      return started(admin);
    },
    async fill() {
      await started(admin).config('SET', 'maxmemory', '1');
      await expect(started(admin).set('probe', 'x')).rejects.toThrow(/^OOM /);
    },
    async free() {
      await started(admin).config('SET', 'maxmemory', '0');
    },
  };
}
