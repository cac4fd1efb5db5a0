/**
 * `jobcraft lock` and `jobcraft check` on versioned payloads, end to end (the real command on a scratch project): the
 * expand/contract rollout of docs/contracts.md ("Versioned payloads") — a type change without a version is breaking
 * both ways; with a version and a migration it is safe backward and `version-added` forward until producers are
 * pinned to the old version; lifting the pin once the workers know the new version is safe.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckReport } from '../codegen/check.js';
import { runCli, writeFiles, writeSchemaProject, type Run } from './cli.js';
import { deletePrefix, rawRedis, redisUrl, testPrefix } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'jobcraft-versions-'));
const SCHEMA = join(dir, 'jobs.schema.ts');
const LOCK = join(dir, 'jobs.lock.json');

/** The schema file with `definition` as sendEmail's definition (zod source). */
function schema(definition: string): string {
  return `import * as z from 'zod';
import { defineJobs, payloadVersion } from 'jobcraft/schema';

const v1 = z.object({ to: z.email() });
const v2 = z.object({ to: z.array(z.email()) });

export const jobs = defineJobs({
  sendEmail: { ${definition}, queue: 'email' },
});
`;
}

const cli = (...args: string[]): Promise<Run> => runCli(args, { NO_COLOR: '', FORCE_COLOR: '' });

async function check(...args: string[]): Promise<{ code: number | null; report: CheckReport }> {
  const run = await cli('check', '--schema', SCHEMA, '--json', ...args);
  return { code: run.code, report: JSON.parse(run.stdout) as CheckReport };
}
const ids = (r: CheckReport): string[] => r.findings.map((f) => `${f.rule}:${f.direction}:${f.severity}`);

beforeAll(() => {
  writeSchemaProject(dir, {
    'package.json': JSON.stringify({ name: 'mail-service', private: true, type: 'module' }),
    'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, skipLibCheck: true, types: [] } }),
    'jobs.schema.ts': schema('payload: v1'),
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('jobcraft check on versioned payloads', { timeout: 120_000 }, () => {
  it('the rollout of a type change: without a version, with one, pinned, then unpinned', async () => {
    expect((await cli('lock', '--schema', SCHEMA)).code).toBe(0);
    const unversioned = readFileSync(LOCK, 'utf8');

    // The type changed in place: stored jobs and old workers both break.
    writeFiles(dir, { 'jobs.schema.ts': schema('payload: v2') });
    const inPlace = await check();
    expect(inPlace.code).toBe(2);
    expect(ids(inPlace.report)).toEqual(['type-changed:backward:breaking', 'type-changed:forward:breaking']);

    // A version with a migration: stored jobs are migrated (safe backward); new producers would write version 2.
    writeFiles(dir, { 'jobs.schema.ts': schema('payload: v2, versions: [payloadVersion(v1, (p) => ({ to: [p.to] }))]') });
    const added = await check();
    expect(added.code).toBe(2);
    expect(ids(added.report)).toEqual(['version-added:backward:safe', 'version-added:forward:breaking']);
    expect((await check('--mode', 'backward')).code).toBe(0);

    // Pinned to version 1 for the release that deploys the workers: safe both ways.
    writeFiles(dir, { 'jobs.schema.ts': schema('payload: v2, versions: [payloadVersion(v1, (p) => ({ to: [p.to] }))], emitVersion: 1') });
    const pinned = await check();
    expect(pinned.code).toBe(0);
    expect(ids(pinned.report)).toEqual(['version-added:backward:safe']);
    expect((await cli('lock', '--schema', SCHEMA)).code).toBe(0);
    const lock = JSON.parse(readFileSync(LOCK, 'utf8')) as { jobs: { sendEmail: { versions: { version: number }[]; emitVersion?: number } } };
    expect(lock.jobs.sendEmail.versions.map((v) => v.version)).toEqual([1, 2]);
    expect(lock.jobs.sendEmail.emitVersion).toBe(1);
    // Version 1's entry is the one the unversioned job locked: the same schemas, the same hash.
    const before = JSON.parse(unversioned) as { jobs: { sendEmail: { versions: { hash: string }[] } } };
    expect((lock.jobs.sendEmail.versions[0] as unknown as { hash: string }).hash).toBe(before.jobs.sendEmail.versions[0]?.hash);

    // Next release, once every worker knows version 2: the pin goes.
    writeFiles(dir, { 'jobs.schema.ts': schema('payload: v2, versions: [payloadVersion(v1, (p) => ({ to: [p.to] }))]') });
    const unpinned = await check();
    expect(unpinned.code).toBe(0);
    expect(unpinned.report.findings).toEqual([]);

    // Dropping version 1 while jobs may be stored with it: flagged.
    writeFiles(dir, { 'jobs.schema.ts': schema('payload: v2') });
    const dropped = await check();
    expect(dropped.code).toBe(2);
    expect(ids(dropped.report)).toContain('version-removed:backward:breaking');
    expect(dropped.report.findings.find((f) => f.rule === 'version-removed')?.hint).toMatch(/version removed while jobs may still be stored — run check --live first/);
  });
});

describe('jobcraft enqueue from the manifest of a versioned job', { timeout: 120_000 }, () => {
  it('takes the version producers write and records it, as the application\'s enqueue does (a stored job without its version is read as version 1)', async () => {
    const project = mkdtempSync(join(tmpdir(), 'jobcraft-versions-manifest-'));
    const prefix = testPrefix('versions-manifest');
    const raw = rawRedis();
    try {
      writeSchemaProject(project, {
        'package.json': JSON.stringify({ name: 'mail-service', private: true, type: 'module' }),
        'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, skipLibCheck: true, types: [] } }),
        'jobs.schema.ts': `import * as z from 'zod';
import { defineJobs, payloadVersion } from 'jobcraft/schema';

const v1 = z.object({ to: z.email() });
const v2 = z.object({ to: z.array(z.email()) });

export const jobs = defineJobs({
  pinned: { payload: v2, versions: [payloadVersion(v1, (p) => ({ to: [p.to] }))], emitVersion: 1 },
  current: { payload: v2, versions: [payloadVersion(v1, (p) => ({ to: [p.to] }))] },
  // Its cronPayload is version 1's input: the manifest resolves only with the job's versions and emitVersion.
  pinnedCron: { payload: v2, versions: [payloadVersion(v1, (p) => ({ to: [p.to] }))], emitVersion: 1, cron: '0 3 * * *', cronPayload: { to: 'c@x.io' } },
});
`,
      });
      const schema = join(project, 'jobs.schema.ts');
      const out = join(project, 'generated');
      expect((await cli('codegen', '--schema', schema, '--out', out)).code).toBe(0);
      const manifest = join(out, 'jobs.manifest.json');
      const enqueue = (job: string, data: unknown): Promise<Run> =>
        cli('enqueue', job, '--manifest', manifest, '--redis', redisUrl(), '--prefix', prefix, '--data', JSON.stringify(data), '--json');

      // Pinned to version 1: its input is version 1's, stored without "v" (version 1).
      const pinned = await enqueue('pinned', { to: 'a@x.io' });
      expect(pinned.code, pinned.stderr).toBe(0);
      expect((await enqueue('pinned', { to: ['a@x.io'] })).code).toBe(4);
      // Unpinned: the current version's input, stored with "v": 2 (without it a worker would read it as version 1).
      const current = await enqueue('current', { to: ['b@x.io'] });
      expect(current.code, current.stderr).toBe(0);
      const stored = await raw.hgetall(`${prefix}:{default}:jobs`);
      const envelopes = Object.values(stored).map((text) => JSON.parse(text) as { n: string; v?: number; p: unknown });
      expect(envelopes.find((e) => e.n === 'pinned')).toMatchObject({ p: { to: 'a@x.io' } });
      expect(envelopes.find((e) => e.n === 'pinned')?.v).toBeUndefined();
      expect(envelopes.find((e) => e.n === 'current')).toMatchObject({ v: 2, p: { to: ['b@x.io'] } });
      // A firing now of the pinned cron job writes version 1, as the workers' cron does.
      const fired = await cli('cron', 'trigger', 'pinnedCron', '--manifest', manifest, '--redis', redisUrl(), '--prefix', prefix);
      expect(fired.code, fired.stderr).toBe(0);
      const cron = Object.values(await raw.hgetall(`${prefix}:{default}:jobs`)).map((text) => JSON.parse(text) as { n: string; v?: number; p: unknown }).find((e) => e.n === 'pinnedCron');
      expect(cron).toMatchObject({ p: { to: 'c@x.io' } });
      expect(cron?.v).toBeUndefined();
    } finally {
      await deletePrefix(raw, prefix);
      raw.disconnect();
      rmSync(project, { recursive: true, force: true });
    }
  });
});
