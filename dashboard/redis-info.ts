/**
 * The Redis facts the overview shows: version, memory, maxmemory and its eviction policy (INFO server + memory, two
 * O(1) commands). A policy other than `noeviction` lets Redis delete job keys under memory pressure: the overview
 * warns about it, as the runtime's preflight does.
 */
import type { Cluster, Redis } from 'ioredis';

/** What the overview shows about Redis. */
export interface RedisFacts {
  readonly version: string | undefined;
  readonly usedMemory: number | undefined;
  readonly maxMemory: number | undefined;
  readonly policy: string | undefined;
  /** True when the policy may evict keys (anything but `noeviction`). */
  readonly mayEvict: boolean;
}

function field(info: string, name: string): string | undefined {
  const m = new RegExp(`^${name}:(.*)$`, 'm').exec(info);
  return m?.[1]?.trim();
}

/** Reads the facts; a Redis that refuses INFO (an ACL) gives undefined fields. */
export async function redisFacts(redis: Redis | Cluster): Promise<RedisFacts> {
  const [server, memory] = await Promise.all([redis.info('server').catch(() => ''), redis.info('memory').catch(() => '')]);
  const num = (s: string | undefined): number | undefined => (s === undefined || s === '' || Number.isNaN(Number(s)) ? undefined : Number(s));
  const policy = field(memory, 'maxmemory_policy');
  return {
    version: field(server, 'redis_version'),
    usedMemory: num(field(memory, 'used_memory')),
    maxMemory: num(field(memory, 'maxmemory')),
    policy,
    mayEvict: policy !== undefined && policy !== 'noeviction',
  };
}
