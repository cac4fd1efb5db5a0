/**
 * The operations commands given what an operator gets wrong — bad numbers, a job name the job set does not declare
 * (and the old name of a renamed job, which it does), an unknown subcommand, a Redis that does not answer — and the
 * hints they print to copy, stored text that is not what jobcraft wrote: the real `jobcraft` command against the real Redis, on this file's own prefix.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, createWorker, defineJobs, PermanentError, queueKeys } from '../src/index.js';
import { runCli, writeSchemaProject, type Run } from './cli.js';
import { deletePrefix, rawRedis, redisUrl, testPrefix, waitFor } from './helpers.js';

const prefix = testPrefix('cli-ops-input');
const raw = rawRedis();
const dir = mkdtempSync(join(tmpdir(), 'jobcraft-cli-ops-input-'));
const SCHEMA = join(dir, 'jobs.schema.ts');

/** The job set before the rename: its producer and worker stored the dead letters under `sendMail`. */
const v1 = defineJobs({ sendMail: { payload: z.object({ to: z.string() }), queue: 'mail' } });
/** The job set the operator runs the command with: `sendMail` renamed to `deliverEmail`. */
const V2_SOURCE = `import * as z from 'zod';
import { defineJobs } from 'jobcraft/schema';
export const jobs = defineJobs({
  deliverEmail: { payload: z.object({ to: z.string() }), queue: 'mail', aliases: ['sendMail'] },
});
`;
const DEAD = 3;

function cli(args: readonly string[]): Promise<Run> {
  return runCli(['--schema', SCHEMA, ...args], { REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: prefix, NO_COLOR: '1', FORCE_COLOR: '' });
}

/** The same with the subcommand first, as an operator types it (options after the command's words). */
function run(words: readonly string[], args: readonly string[] = []): Promise<Run> {
  return runCli([...words, '--schema', SCHEMA, ...args], { REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: prefix, NO_COLOR: '1', FORCE_COLOR: '' });
}

beforeAll(async () => {
  writeSchemaProject(dir, { 'package.json': JSON.stringify({ name: 'ops-input', private: true, type: 'module' }), 'jobs.schema.ts': V2_SOURCE });
  const client = createClient(v1, { redis: redisUrl(), prefix });
  const worker = createWorker(
    v1,
    {
      sendMail: async () => {
        throw new PermanentError('mailbox unreachable');
      },
    },
    { redis: redisUrl(), prefix, logger: false },
  );
  await client.enqueueMany('sendMail', Array.from({ length: DEAD }, (_, i) => ({ to: `u${i}` })));
  await waitFor(async () => (await client.deadLetters.count('mail')) === DEAD, `${DEAD} dead letters`, 30_000);
  await worker.close();
  await client.close();
}, 60_000);

afterAll(async () => {
  await deletePrefix(raw, prefix);
  raw.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

describe('dead ls with numbers out of range', () => {
  it('refuses a --limit below 1 or above 1000 and a negative --offset (exit 2, naming the option) instead of listing nothing or the oldest', async () => {
    for (const [option, value] of [['--limit', '0'], ['--limit', '1001'], ['--offset', '-2']] as const) {
      const r = await run(['dead', 'ls'], [option, value]);
      expect(r.stdout, `${option} ${value}`).toBe('');
      expect(r.stderr, `${option} ${value}`).toContain(`${option} must be`);
      expect(r.code, `${option} ${value}`).toBe(2);
    }
    const ok = await run(['dead', 'ls'], ['--limit', '1000', '--offset', '0', '--json']);
    expect(ok.code).toBe(0);
    expect((JSON.parse(ok.stdout) as { deadLetters: unknown[] }).deadLetters).toHaveLength(DEAD);
  }, 60_000);
});

describe('--job with a name the job set does not declare, or the old name of a renamed job', () => {
  it('dead ls --job exits 3 for an unknown name, as the bulk actions do, and lists the letters stored under an old name', async () => {
    const unknown = await run(['dead', 'ls'], ['--job', 'nope']);
    expect(unknown.stderr).toContain('no job "nope"');
    expect(unknown.code).toBe(3);
    const old = await run(['dead', 'ls'], ['--job', 'sendMail', '--json']);
    expect(old.stderr).toBe('');
    expect(old.code).toBe(0);
    expect((JSON.parse(old.stdout) as { deadLetters: { name: string }[] }).deadLetters.map((d) => d.name)).toEqual(Array(DEAD).fill('sendMail'));
  });

  it('dead retry and jobs cancel accept the old name (the runtime matches jobs stored under it), and still refuse an unknown one', async () => {
    const dry = await run(['dead', 'retry'], ['--job', 'sendMail', '--all', '--dry-run', '--json']);
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, matched: DEAD });
    const cancel = await run(['jobs', 'cancel'], ['--job', 'sendMail', '--all', '--dry-run', '--json']);
    expect(cancel.code).toBe(0);
    expect((await run(['dead', 'retry'], ['--job', 'nope', '--all', '--dry-run'])).code).toBe(3);
  }, 60_000);
});

describe('unknown subcommands', () => {
  it('dead and cron with an unknown or missing subcommand are usage errors (exit 2), as every other usage error', async () => {
    for (const words of [['dead', 'lss'], ['cron', 'lss'], ['dead'], ['cron']]) {
      const r = await runCli(words, { NO_COLOR: '1' });
      expect(r.code, words.join(' ')).toBe(2);
    }
    const help = await runCli(['dead', '--help'], { NO_COLOR: '1' });
    expect(help.code).toBe(0);
  }, 60_000);
});

describe('Redis unreachable', () => {
  it('every command that acts through the admin API names the address and the cause, not an ioredis retry counter', async () => {
    for (const words of [['pause', 'mail'], ['jobs', 'promote', '--all', '--yes']]) {
      const r = await runCli([...words, '--schema', SCHEMA, '--redis', 'redis://127.0.0.1:1'], { JOBCRAFT_PREFIX: prefix, NO_COLOR: '1' });
      expect(r.code, words.join(' ')).toBe(1);
      const last = r.stderr.trim().split('\n').at(-1) as string;
      expect(last, words.join(' ')).toMatch(/^error: .*redis:\/\/127\.0\.0\.1:1 is unreachable: .*ECONNREFUSED/);
      expect(last, words.join(' ')).not.toContain('maxRetriesPerRequest');
    }
  }, 60_000);
});

describe('the next-page hint of jobs <queue>', () => {
  it('carries the --prefix and --redis it was run with, so that copying it reads the same queue', async () => {
    const client = createClient(v1, { redis: redisUrl(), prefix });
    await client.enqueueMany('sendMail', [{ to: 'a' }, { to: 'b' }, { to: 'c' }], { delay: '1h' });
    await client.close();
    const args = ['jobs', 'mail', '--state', 'delayed', '--limit', '2', '--prefix', prefix, '--redis', redisUrl()];
    const first = await runCli(args, { NO_COLOR: '1' });
    expect(first.code).toBe(0);
    const hint = /^more: jobcraft (.*)$/m.exec(first.stdout)?.[1];
    expect(hint).toBeDefined();
    expect(hint).toContain(`--prefix ${prefix}`);
    expect(hint).toContain(`--redis ${redisUrl()}`);
    // Run as printed (its words split as a shell would: nothing here needs quoting), in an environment without them.
    const next = await runCli((hint as string).split(' '), { NO_COLOR: '1', JOBCRAFT_PREFIX: '', REDIS_URL: '' });
    expect(next.code).toBe(0);
    expect(next.stdout).toMatch(/mail#\w+/);
  });
});

describe('a dead letter whose stored reason holds terminal controls', () => {
  it('dead ls, dead show and job <id> print the reason escaped, as every other stored text', async () => {
    const keys = queueKeys(prefix, 'mail');
    const id = (await raw.zrevrange(keys.deadOrder, 0, 0))[0] as string;
    const info = JSON.parse((await raw.hget(keys.deadInfo, id)) as string) as { reason: string };
    // Anyone who can write to Redis can write this record: a title change, then a cleared screen.
    await raw.hset(keys.deadInfo, id, JSON.stringify({ ...info, reason: 'permanent_error\u001b]0;owned\u0007\u001b[2J' }));
    for (const words of [['dead', 'ls', 'mail', '--limit', '1'], ['dead', 'show', id], ['job', id]]) {
      const r = await run(words);
      expect(r.code, words.join(' ')).toBe(0);
      expect(r.stdout, words.join(' ')).not.toMatch(/[\u0007\u001b]/);
      expect(r.stdout, words.join(' ')).toContain('permanent_error\\x1b]0;owned\\x07\\x1b[2J');
    }
  }, 60_000);
});
