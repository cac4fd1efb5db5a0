/**
 * `jobcraft migrate` end to end: jobs stored by this process under the OLD job set (payload version 1: waiting, and
 * dead letters), then the real command run against a NEW schema file (version 2 with a migration from 1) in a
 * temporary project. Checked: the dry run writes nothing and counts per version, the run rewrites what migrates and
 * leaves (and lists, exit 4) what does not, a rerun skips the done jobs, `--json`'s shape, usage errors and their
 * exit codes, Ctrl-C between pages (exit 130) and a rerun finishing the rest.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { MigrateOutcome } from '../src/index.js';
import { createClient, createWorker, defineJobs, queueKeys } from '../src/index.js';
import { runCli, writeSchemaProject, type Run } from './cli.js';
import { deletePrefix, rawRedis, redisUrl, testPrefix, waitFor } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'jobcraft-migrate-'));
const SCHEMA = join(dir, 'jobs.schema.ts');
const raw = rawRedis();
const prefixes: string[] = [];

/** The code running now: sendEmail takes one address. */
const oldJobs = defineJobs({ sendEmail: { payload: z.object({ to: z.string() }), queue: 'mail', attempts: 1 } });

/** The code about to deploy: a list of addresses (version 2), with the migration from version 1. */
const NEW_SOURCE = `import * as z from 'zod';
import { defineJobs, payloadVersion } from 'jobcraft/schema';

const v1 = z.object({ to: z.string() });
export const jobs = defineJobs({
  sendEmail: { payload: z.object({ to: z.array(z.email()) }), queue: 'mail', versions: [payloadVersion(v1, (p) => ({ to: [p.to] }))] },
});
`;

beforeAll(() => {
  writeSchemaProject(dir, {
    'package.json': JSON.stringify({ name: 'mail-service', private: true, type: 'module' }),
    'jobs.schema.ts': NEW_SOURCE,
    // The expand release: producers still pinned to version 1.
    'pinned/jobs.schema.ts': NEW_SOURCE.replace("versions: [", 'emitVersion: 1, versions: ['),
  });
});
afterAll(async () => {
  for (const p of prefixes) await deletePrefix(raw, p);
  raw.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

function cli(prefix: string, args: readonly string[], onSpawn?: Parameters<typeof runCli>[2]): Promise<Run> {
  return runCli(['migrate', ...args], { REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: prefix, NO_COLOR: '1', FORCE_COLOR: '' }, onSpawn);
}

const json = (run: Run): MigrateOutcome => JSON.parse(run.stdout) as MigrateOutcome;

/** Stores old jobs under a new prefix: `good` waiting ones, one that cannot migrate, and one dead letter. */
async function storeOld(name: string, good: number): Promise<{ prefix: string; bad: string; dead: string }> {
  const prefix = testPrefix(name);
  prefixes.push(prefix);
  const client = createClient(oldJobs, { redis: redisUrl(), prefix });
  try {
    // The dead letter: a worker of the old code fails it (one attempt).
    const dead = await client.enqueue('sendEmail', { to: 'dead@x.io' });
    const worker = createWorker(oldJobs, { sendEmail: async () => Promise.reject(new Error('smtp down')) }, { redis: redisUrl(), prefix, logger: false });
    await waitFor(async () => (await raw.hexists(queueKeys(prefix, 'mail').dead, dead.id)) === 1, 'the dead letter');
    await worker.close();
    await client.pause('mail');
    await client.enqueueMany('sendEmail', Array.from({ length: good }, (_, i) => ({ to: `user-${i}-with-an-address-long-enough-for-a-hashtable@example.com` })));
    const bad = await client.enqueue('sendEmail', { to: 'not an address' });
    return { prefix, bad: bad.id, dead: dead.id };
  } finally {
    await client.close();
  }
}

describe('jobcraft migrate', () => {
  it('dry run, run, rerun: rewrites what migrates, leaves and lists what does not (exit 4)', async () => {
    const { prefix, bad, dead } = await storeOld('cli-migrate', 5);
    const k = queueKeys(prefix, 'mail');
    const before = await raw.hgetall(k.jobs);

    const dry = await cli(prefix, ['sendEmail', '--to', '2', '--schema', SCHEMA, '--dry-run', '--json']);
    expect(dry.code).toBe(4);
    expect(json(dry)).toMatchObject({ job: 'sendEmail', queue: 'mail', to: 2, current: 2, dryRun: true, matched: 7, migrated: 6, failed: 1, versions: [{ version: 1, jobs: 7, migrated: 6, failed: 1 }] });
    expect(json(dry).failures).toEqual([{ id: bad, source: 'jobs', reason: 'invalid', from: 1, issues: [expect.objectContaining({ path: 'to[]', code: 'invalid_format' })] }]);
    expect(await raw.hgetall(k.jobs)).toEqual(before);

    const run = await cli(prefix, ['sendEmail', '--to', '2', '--schema', SCHEMA]);
    expect(run.code).toBe(4);
    expect(run.stdout).toContain('migrated 6, 0 already at version 2, 1 failed (left as they were)');
    expect(run.stdout).toMatch(new RegExp(`${bad.replace('#', '\\#')}\\s+live\\s+v1\\s+to\\[\\]\\s+invalid_format`));
    const after = await raw.hgetall(k.jobs);
    expect(after[bad]).toBe(before[bad]);
    for (const [id, text] of Object.entries(after)) {
      if (id !== bad) expect(JSON.parse(text)).toMatchObject({ n: 'sendEmail', v: 2, p: { to: [expect.stringContaining('@example.com')] } });
    }
    expect(JSON.parse((await raw.hget(k.dead, dead)) as string)).toMatchObject({ v: 2, p: { to: ['dead@x.io'] } });

    const again = await cli(prefix, ['sendEmail', '--to', '2', '--schema', SCHEMA, '--json']);
    expect(again.code).toBe(4);
    expect(json(again)).toMatchObject({ matched: 7, atTarget: 6, migrated: 0, failed: 1 });

    // Without the dead letters, and with the failing job gone: exit 0.
    await raw.hdel(k.jobs, bad);
    const clean = await cli(prefix, ['sendEmail', '--to', '2', '--schema', SCHEMA, '--no-dead', '--json']);
    expect(clean.code).toBe(0);
    expect(json(clean)).toMatchObject({ dead: false, matched: 5, atTarget: 5, failed: 0 });
  });

  it('usage errors: no --to, a version the job lacks, an unknown job, a manifest', async () => {
    const prefix = testPrefix('cli-migrate-usage');
    const noTo = await cli(prefix, ['sendEmail', '--schema', SCHEMA]);
    expect(noTo.code).toBe(2);
    expect(noTo.stderr).toContain('--to <N>');
    const tooHigh = await cli(prefix, ['sendEmail', '--to', '3', '--schema', SCHEMA]);
    expect(tooHigh.code).toBe(2);
    expect(tooHigh.stderr).toContain('payload versions 1 to 2');
    const unknown = await cli(prefix, ['nope', '--to', '1', '--schema', SCHEMA]);
    expect(unknown.code).toBe(3);
    const manifest = await cli(prefix, ['sendEmail', '--to', '2', '--manifest', 'generated/jobs.manifest.json']);
    expect(manifest.code).toBe(2);
    // Above the version producers write: allowed (the workers may all be new), with a note saying when it is safe.
    const above = await cli(prefix, ['sendEmail', '--to', '2', '--schema', join(dir, 'pinned', 'jobs.schema.ts'), '--dry-run']);
    expect(above.code).toBe(0);
    expect(above.stderr).toContain('note: version 2 is above the version producers write (emitVersion 1): run this only once every worker knows version 2');
  });

  it('Ctrl-C stops after the current page (exit 130); rerunning finishes the rest', async () => {
    const { prefix } = await storeOld('cli-migrate-int', 300);
    const k = queueKeys(prefix, 'mail');
    const migrated = async (): Promise<number> => (await raw.hvals(k.jobs)).filter((t) => t.includes('"v":2')).length;
    // Ten jobs a page at ten a second: interrupted once the first page is written (during the pacing wait).
    const interrupted = await cli(prefix, ['sendEmail', '--to', '2', '--schema', SCHEMA, '--json', '--page-size', '10', '--rate', '10'], (child) => {
      void waitFor(async () => (await migrated()) > 0, 'the first page', 60_000).then(() => child.kill('SIGINT'));
    });
    expect(interrupted.code).toBe(130);
    const partial = json(interrupted);
    expect(partial.interrupted).toBe(true);
    expect(partial.migrated).toBeLessThan(300);
    const rest = await cli(prefix, ['sendEmail', '--to', '2', '--schema', SCHEMA, '--json']);
    // The rest of the live jobs and the dead letter; the one that cannot migrate is still listed (exit 4).
    expect(rest.code).toBe(4);
    expect(json(rest)).toMatchObject({ interrupted: false, migrated: 301 - partial.migrated, atTarget: partial.migrated, failed: 1 });
    expect(await migrated()).toBe(300);
  });
});
