/**
 * Redis before 7.0 cannot load jobcraft's scripts (their first line is a `#!lua` shebang, which older versions compile
 * as Lua): every call then fails with the library's error naming the version, not a raw Lua compile error. No Redis 6
 * here, so a stand-in connection answers as Redis 6.2 does. Also: a script checked out with CRLF line ends loads.
 */
import { describe, expect, it } from 'vitest';
import { queueKeys } from '../src/index.js';
import type { RedisConnection } from '../src/redis.js';
import { placeLib, Scripts } from '../src/scripts.js';

describe('Redis older than 7.0', () => {
  it('a script call fails with "jobcraft needs Redis ≥ 7.0 (found …)"', async () => {
    const compileError = Object.assign(new Error("ERR Error compiling script (new function): user_script:1: unexpected symbol near '#'"), {
      name: 'ReplyError',
    });
    const fake: Record<string, unknown> = {
      defineCommand: (name: string) => {
        fake[name] = () => Promise.reject(compileError);
      },
      info: () => Promise.resolve('# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n'),
    };
    const scripts = new Scripts(fake as unknown as RedisConnection);
    const err = await scripts.resume(queueKeys('jc', 'default'), { types: [] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^jobcraft needs Redis ≥ 7\.0 \(found 6\.2\.14\)/);
    expect((err as Error).cause).toBe(compileError);
  });
});

describe('script text', () => {
  it('a CRLF checkout of a script keeps its shebang line first, without the \\r', () => {
    const text = '#!lua flags=allow-oom\r\n-- a comment\r\nreturn 1\r\n';
    const out = placeLib('example', text);
    expect(out.startsWith('#!lua flags=allow-oom\n')).toBe(true);
    expect(out.endsWith('return 1\r\n')).toBe(true);
    expect(placeLib('example', text, '#!lua').startsWith('#!lua\n')).toBe(true);
  });
});
