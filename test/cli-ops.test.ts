/**
 * The operations commands end to end: the real `jobcraft` command (`node bin/jobcraft.js …`, what `npx jobcraft`
 * runs) against the real Redis, each test file on its own prefix. Checked: stdout (human and --json), exit codes and
 * the effects in Redis; payload text never reaches the terminal unescaped; a bulk retry killed mid-way and rerun
 * retries every dead letter exactly once; a bulk action without a terminal and without --yes is refused.
 * Each spawn costs about half a second, so the tests share one set of jobs and spawn few processes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, createWorker, PermanentError, queueKeys } from '../src/index.js';
import { jobs } from '../jobs.schema.js';
import { runCli, type Run } from './cli.js';
import { deletePrefix, rawRedis, redisUrl, testPrefix, waitFor } from './helpers.js';

const prefix = testPrefix('cli-ops');
const client = createClient(jobs, { redis: redisUrl(), prefix });
const raw = rawRedis();
const email = queueKeys(prefix, 'email');
const DEAD = 300;
let deadIds: string[] = [];

/** Runs `jobcraft …` on this file's prefix, colours left to the command's defaults; `onSpawn` may kill it. */
function cli(args: readonly string[], onSpawn?: Parameters<typeof runCli>[2]): Promise<Run> {
  return runCli(args, { REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: prefix, NO_COLOR: '', FORCE_COLOR: '' }, onSpawn);
}

beforeAll(async () => {
  // Dead letters made the way production makes them: a worker whose handler gives up on every job.
  const worker = createWorker(
    jobs,
    {
      sendWelcomeEmail: async () => {
        throw new PermanentError('mailbox unreachable');
      },
    },
    { redis: redisUrl(), prefix, logger: false, queues: ['email'], concurrency: 50 },
  );
  const payloads = Array.from({ length: DEAD }, (_, i) => ({ userId: `u${i}`, email: `u${i}@example.com` }));
  deadIds = (await client.enqueueMany('sendWelcomeEmail', payloads)).map((r) => r.id);
  await waitFor(async () => (await client.deadLetters.count('email')) === DEAD, `${DEAD} dead letters`, 60_000);
  await worker.close();
}, 90_000);

afterAll(async () => {
  await client.close();
  await deletePrefix(raw, prefix);
  raw.disconnect();
});

describe('jobcraft enqueue and job <id>', () => {
  it('refuses a payload that fails the schema with the issue paths of enqueue (exit 4, --json only JSON), and writes nothing', async () => {
    const r = await cli(['enqueue', 'sendWelcomeEmail', '--data', '{"userId":"","email":"not-an-email"}', '--json']);
    expect(r.code).toBe(4);
    const body = JSON.parse(r.stdout) as { error: string; issues: { path: (string | number)[]; at: string }[] };
    expect(body.error).toBe('invalid_payload');
    const paths = body.issues.map((i) => i.at);
    expect(paths).toEqual(expect.arrayContaining(['userId', 'email']));
    // The same paths as the library's own enqueue.
    const lib = await client.enqueue('sendWelcomeEmail', { userId: '', email: 'not-an-email' }).catch((e: { issues: { path: (string | number)[] }[] }) => e.issues.map((i) => i.path.join('.')));
    expect([...new Set(paths)].sort()).toEqual([...new Set(lib as string[])].sort());
    expect(await raw.hlen(email.jobs)).toBe(0);
  });

  it('enqueues a valid payload, and `job <id>` prints it with every control character escaped; unknown ids exit 3', async () => {
    const hostile = 'u\u001b[2J\u001b]0;owned\u0007\u009b31m\u202eevil';
    const r = await cli(['enqueue', 'sendWelcomeEmail', '--data', JSON.stringify({ userId: hostile, email: 'a@example.com' })]);
    expect(r.code).toBe(0);
    const id = /: (email#\w+)$/m.exec(r.stdout)?.[1];
    expect(id).toBeDefined();
    expect(JSON.parse((await raw.hget(email.jobs, id as string)) as string)).toMatchObject({ n: 'sendWelcomeEmail', p: { userId: hostile } });

    const shown = await cli(['job', id as string]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`job ${id}`);
    expect(shown.stdout).toMatch(/state\s+waiting/);
    // The payload is printed as JSON, its control characters as escapes.
    expect(shown.stdout).toContain('"userId": "u\\u001b[2J\\u001b]0;owned\\u0007\\x9b31m\\u202eevil"');
    // Nothing a terminal interprets: no C0 control but newlines, no C1 control, no bidi override, no colour.
    expect(shown.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);

    const json = await cli(['job', id as string, '--json']);
    expect(json.code).toBe(0);
    const info = JSON.parse(json.stdout) as { state: string; payload: { userId: string }; timeline: { event: string }[] };
    expect(info).toMatchObject({ state: 'waiting', payload: { userId: hostile } });
    expect(info.timeline.map((e) => e.event)).toEqual(['enqueued']);
    expect(json.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    await client.cancel(id as string);

    const missing = await cli(['job', 'no-such-job']);
    expect(missing.code).toBe(3);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toContain('no job "no-such-job"');
  });
});

describe('jobcraft dead', () => {
  it('lists dead letters (table, no colour when piped) and shows one with its error and stack (--json)', async () => {
    const ls = await cli(['dead', 'ls', 'email', '--limit', '3']);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^ID\s+QUEUE\s+JOB\s+REASON\s+ATTEMPTS\s+DIED\s+ERROR/);
    expect(ls.stdout).toContain('permanent_error');
    expect(ls.stdout).toContain(`3 shown, ${DEAD} dead letter(s) in queue email`);
    expect(ls.stdout).not.toContain('\u001b');

    const show = await cli(['dead', 'show', deadIds[0] as string, '--json']);
    expect(show.code).toBe(0);
    const letter = JSON.parse(show.stdout) as { reason: string; error: { message: string; stack: string }; payload: unknown };
    expect(letter).toMatchObject({ reason: 'permanent_error', error: { message: 'mailbox unreachable' }, payload: { userId: 'u0' } });
    expect(letter.error.stack).toContain('cli-ops.test.ts');
  });

  it('refuses a bulk retry without a terminal and without --yes (exit 2, nothing changed)', async () => {
    const r = await cli(['dead', 'retry', '--queue', 'email', '--all']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('pass --yes');
    expect(await raw.zcard(email.deadOrder)).toBe(DEAD);
  });

  it('a bulk retry killed mid-way and run again retries every dead letter exactly once', async () => {
    // Paced (10 jobs a page, 300 a second) so that the kill lands mid-way.
    const args = ['dead', 'retry', '--queue', 'email', '--all', '--yes', '--page-size', '10', '--rate', '300'];
    const first = await cli(args, (child) => {
      void waitFor(async () => (await raw.zcard(email.deadOrder)) <= DEAD - 50, 'some retried', 30_000).then(() => child.kill('SIGKILL'));
    });
    expect(first.code).toBe(null); // killed
    const left = await raw.zcard(email.deadOrder);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(DEAD);

    const second = await cli([...args.slice(0, -4), '--json']);
    expect(second.code).toBe(0);
    const outcome = JSON.parse(second.stdout) as { done: number; interrupted: boolean };
    expect(outcome).toMatchObject({ done: left, interrupted: false });

    expect(await raw.zcard(email.deadOrder)).toBe(0);
    const waiting = await raw.lrange(email.wait, 0, -1);
    expect(waiting.length).toBe(DEAD);
    expect(new Set(waiting)).toEqual(new Set(deadIds));
    // Retried once: fresh attempts, no second copy anywhere.
    expect(await raw.hlen(email.attempts)).toBe(0);
    expect(await raw.hlen(email.jobs)).toBe(DEAD);
  });
});

describe('jobcraft jobs, pause, resume, cron', () => {
  it('promotes delayed jobs of one job type (--dry-run first, then for real)', async () => {
    const [a, b] = await client.enqueueMany('sendWelcomeEmail', [{ userId: 'x', email: 'x@example.com' }, { userId: 'y', email: 'y@example.com' }], { delay: '1h' });
    const later = Date.now() + 30 * 60_000;
    const dry = await cli(['jobs', 'promote', '--queue', 'email', '--job', 'sendWelcomeEmail', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('queue email: would act on 2 job(s)');
    expect(Number(await raw.zscore(email.scheduled, a!.id))).toBeGreaterThan(later);

    const r = await cli(['jobs', 'promote', '--queue', 'email', '--job', 'sendWelcomeEmail', '--yes', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ action: 'promote', matched: 2, done: 2 });
    for (const id of [a!.id, b!.id]) expect(Number(await raw.zscore(email.scheduled, id))).toBeLessThan(later);
    expect((await client.getJob(a!.id)).state).toBe('delayed');
  });

  it('pauses and resumes a queue; an unknown queue exits 3', async () => {
    const paused = await cli(['pause', 'webhooks', '--json']);
    expect(paused.code).toBe(0);
    expect(JSON.parse(paused.stdout)).toEqual({ queue: 'webhooks', paused: true, changed: true });
    expect(await client.isPaused('webhooks')).toBe(true);
    const resumed = await cli(['resume', 'webhooks']);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('queue webhooks resumed');
    expect(await client.isPaused('webhooks')).toBe(false);
    const unknown = await cli(['pause', 'nope']);
    expect(unknown.code).toBe(3);
  });

  it('lists cron jobs with their next firing, and triggers one now', async () => {
    const ls = await cli(['cron', 'ls', '--json']);
    expect(ls.code).toBe(0);
    const { cron } = JSON.parse(ls.stdout) as { cron: { name: string; schedule: string; lastFiring: string | null; nextFiring: string }[] };
    expect(cron).toEqual([expect.objectContaining({ name: 'buildDailyReport', schedule: '0 3 * * *', lastFiring: null })]);
    expect(new Date(cron[0]!.nextFiring).getUTCHours()).toBe(3);

    const trigger = await cli(['cron', 'trigger', 'buildDailyReport', '--json']);
    expect(trigger.code).toBe(0);
    const { id } = JSON.parse(trigger.stdout) as { id: string };
    expect(await client.getJob(id)).toMatchObject({ state: 'waiting', name: 'buildDailyReport', payload: {} });
  });
});
