/**
 * How a command's error reaches stderr: messages may quote stored text (Redis's own errors name keys, the runtime's
 * quote values it read), so they are escaped like every other output.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { report } from '../../codegen/ops-context.js';
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
