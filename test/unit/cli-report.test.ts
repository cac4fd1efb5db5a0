/**
 * How a command's error reaches stderr: messages may quote stored text (Redis's own errors name keys, the runtime's
 * quote values it read), so they are escaped like every other output.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { report, unreachable } from '../../codegen/ops-context.js';
import { CliError, EXIT, Printer } from '../../codegen/ops-output.js';

afterEach(() => vi.restoreAllMocks());

describe('report', () => {
  it('escapes control characters in a CliError and in any other error, keeping line breaks', () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
    const out = new Printer(false, false);
    expect(report(out, new CliError(EXIT.notFound, 'no queue "x" (queues: evil\u001b]0;t\u0007\u009b31m)'))).toBe(EXIT.notFound);
    expect(report(out, new Error('WRONGTYPE at key a\u202eb\nsecond line'))).toBe(EXIT.failure);
    expect(written.join('')).toBe('error: no queue "x" (queues: evil\\x1b]0;t\\x07\\x9b31m)\nerror: WRONGTYPE at key a\\u202eb\nsecond line\n');
  });
});

describe('unreachable', () => {
  const limit = new Error('Reached the max retries per request limit (which is 2). Refer to "maxRetriesPerRequest" option for details.');
  limit.name = 'MaxRetriesPerRequestError';

  it("says where Redis is and why it cannot be reached instead of ioredis's retry counter, without the URL's password", () => {
    const said = unreachable(limit, 'redis://app:s3cret@10.0.0.9:6380/2', 'connect ECONNREFUSED 10.0.0.9:6380');
    expect(said).toBeInstanceOf(CliError);
    expect((said as CliError).exitCode).toBe(EXIT.failure);
    expect((said as Error).message).toBe('Redis at redis://10.0.0.9:6380/2 is unreachable: connect ECONNREFUSED 10.0.0.9:6380');
    expect((unreachable(limit, 'redis://127.0.0.1:1', undefined) as Error).message).toBe('Redis at redis://127.0.0.1:1 is unreachable: no connection could be made');
  });

  it('puts the cause into a runtime error that quoted the retry counter, and leaves every other error as it is', () => {
    const runtime = new Error(`enqueue "buildDailyReport" (nothing was written): Redis at redis://127.0.0.1:1 is unreachable: ${limit.message}`);
    runtime.name = 'RedisUnavailableError';
    const said = unreachable(runtime, 'redis://127.0.0.1:1', 'connect ECONNREFUSED 127.0.0.1:1') as Error;
    expect(said.name).toBe('RedisUnavailableError');
    expect(said.message).toBe('enqueue "buildDailyReport" (nothing was written): Redis at redis://127.0.0.1:1 is unreachable: connect ECONNREFUSED 127.0.0.1:1');
    const other = new Error('WRONGTYPE Operation against a key holding the wrong kind of value');
    expect(unreachable(other, 'redis://127.0.0.1:1', 'connect ECONNREFUSED 127.0.0.1:1')).toBe(other);
    const usage = new CliError(EXIT.usage, 'bad');
    expect(unreachable(usage, 'redis://127.0.0.1:1', 'x')).toBe(usage);
  });
});
