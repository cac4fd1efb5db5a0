/**
 * The rolling deploy of issue #13 ("Done means"), with REAL separate processes (test/fixtures/rolling-process.ts,
 * each running one schema file's job set) against the same Redis under a prefix of their own. `sendEmail` changes
 * from `{ to: string }` (the old code, v1) to `{ to: email[] }`:
 * - with versions + a migration (v2), jobs an old producer stored before the deploy (rewritten by `jobcraft migrate`)
 *   and during it (upcast by the worker) all complete on the new worker, whose handler sees the new type; the reverse — a new producer pinned to `emitVersion: 1` beside an
 *   old worker — completes too, and once the workers are new, unpinned producers' jobs complete as well;
 * - an unpinned new producer beside an old worker is the hazard the check names: the old worker never runs its jobs
 *   (they fail their attempts and wait in the dead letters, not run with the wrong type), and after the deploy they
 *   are retried and run;
 * - without versions + migration (the naive v2), `jobcraft check` against the old lockfile and `jobcraft check
 *   --live` both flag it before the deploy (exit 2), and a worker of that code would indeed dead-letter the stored jobs.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdmin } from '../src/index.js';
import { runCli, writeSchemaProject } from './cli.js';
import { cleanupRegistry, deletePrefix, rawRedis, redisUrl, testPrefix, waitFor } from './helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'jobcraft-rolling-'));
const raw = rawRedis();
const prefixes: string[] = [];
const defer = cleanupRegistry();

const HEAD = `import * as z from 'zod';\nimport { defineJobs, payloadVersion } from 'jobcraft/schema';\n\nconst v1 = z.object({ to: z.string() });\nconst v2 = z.object({ to: z.array(z.email()) });\nvoid payloadVersion;\n`;
/** The schema files of each deploy: the old code, the new code with a migration (pinned or not), the naive new code. */
const SCHEMAS = {
  old: `${HEAD}export const jobs = defineJobs({ sendEmail: { payload: v1, queue: 'mail', attempts: 2, backoff: { type: 'fixed', delay: 50 } } });\n`,
  pinned: `${HEAD}export const jobs = defineJobs({ sendEmail: { payload: v2, queue: 'mail', versions: [payloadVersion(v1, (p) => ({ to: [p.to] }))], emitVersion: 1 } });\n`,
  new: `${HEAD}export const jobs = defineJobs({ sendEmail: { payload: v2, queue: 'mail', versions: [payloadVersion(v1, (p) => ({ to: [p.to] }))] } });\n`,
  naive: `${HEAD}export const jobs = defineJobs({ sendEmail: { payload: v2, queue: 'mail' } });\n`,
} as const;
type Deploy = keyof typeof SCHEMAS;
const schemaOf = (deploy: Deploy): string => join(dir, deploy, 'jobs.schema.ts');

beforeAll(() => {
  writeSchemaProject(dir, {
    'package.json': JSON.stringify({ name: 'mail-service', private: true, type: 'module' }),
    ...Object.fromEntries(Object.entries(SCHEMAS).map(([deploy, source]) => [`${deploy}/jobs.schema.ts`, source])),
  });
});
afterAll(async () => {
  for (const p of prefixes) await deletePrefix(raw, p);
  raw.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

function newPrefix(name: string): string {
  const p = testPrefix(name);
  prefixes.push(p);
  return p;
}

/** A running process of one deploy, and the lines it printed. */
interface Proc {
  readonly lines: string[];
  /** Resolves when it has exited (its code). */
  readonly exited: Promise<number | null>;
  /** Waits until `check` holds over its lines (fails early if it exits first, naming its output). */
  until(check: (lines: readonly string[]) => boolean, what: string): Promise<void>;
  stop(): Promise<void>;
}

function start(deploy: Deploy, prefix: string, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/rolling-process.ts'], {
    cwd: ROOT,
    env: { ...process.env, REDIS_URL: redisUrl(), JC_PREFIX: prefix, JC_SCHEMA: schemaOf(deploy), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let pending = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const parts = (pending + chunk.toString()).split('\n');
    pending = parts.pop() ?? '';
    lines.push(...parts);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  defer(stop);
  return {
    lines,
    exited,
    stop,
    until: async (check, what) => {
      try {
        await waitFor(() => {
          if (check(lines)) return true;
          if (child.exitCode !== null) throw new Error(`the ${deploy} process exited (code ${child.exitCode})`);
          return false;
        }, what, 60_000);
      } catch (err) {
        throw new Error(`${(err as Error).message}; its output: ${JSON.stringify(lines.join('\n') + stderr)}`);
      }
    },
  };
}

/** Runs a producer of `deploy` writing `count` jobs; returns their ids. */
async function produce(deploy: Deploy, prefix: string, tag: string, count: number): Promise<string[]> {
  const shape = deploy === 'old' || deploy === 'pinned' ? 'one' : 'list';
  const p = start(deploy, prefix, { JC_ROLE: 'producer', JC_COUNT: String(count), JC_TAG: tag, JC_SHAPE: shape });
  const code = await p.exited;
  expect(code, p.lines.join('\n')).toBe(0);
  return p.lines.filter((l) => l.startsWith('enqueued ')).map((l) => l.slice('enqueued '.length));
}

const worker = (deploy: Deploy, prefix: string): Proc => start(deploy, prefix, { JC_ROLE: 'worker' });

/** The payload each id ran with, from a worker's `ran <id> <json>` lines. */
function runs(lines: readonly string[]): Map<string, unknown> {
  const seen = new Map<string, unknown>();
  for (const l of lines) {
    const m = /^ran (\S+) (.*)$/.exec(l);
    if (m) seen.set(m[1] as string, JSON.parse(m[2] as string));
  }
  return seen;
}
const ranAll = (ids: readonly string[]) => (lines: readonly string[]): boolean => {
  const seen = runs(lines);
  return ids.every((id) => seen.has(id));
};

// Each test starts several processes (tsx compiles each at its start): minutes on a busy 2-core machine, not a timing.
describe('rolling deploy', { timeout: 180_000 }, () => {
  it('old producer → new worker: jobs stored before the deploy (migrated in place) and during it (upcast at dequeue) complete, the handler seeing the new type', async () => {
    const prefix = newPrefix('rolling-forward');
    const before = await produce('old', prefix, 'before', 5);
    // No old worker runs any more: the stored jobs may be written back at version 2 (the runbook's migrate step).
    const migrate = await runCli(['migrate', 'sendEmail', '--to', '2', '--schema', schemaOf('new'), '--json'], { REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: prefix, NO_COLOR: '1' });
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(JSON.parse(migrate.stdout)).toMatchObject({ matched: 5, migrated: 5, failed: 0 });
    const w = worker('new', prefix);
    await w.until((l) => l.includes('ready'), 'the new worker');
    const during = await produce('old', prefix, 'during', 5);
    const ids = [...before, ...during];
    expect(new Set(ids).size).toBe(10);
    await w.until(ranAll(ids), 'every job to run on the new worker');
    const seen = runs(w.lines);
    ids.forEach((id, i) => expect(seen.get(id)).toEqual({ to: [`${i < 5 ? 'before' : 'during'}-${i % 5}@x.io`] }));
    expect(w.lines.filter((l) => /^(dead|retrying) /.test(l))).toEqual([]);
  });

  it('new producer pinned to version 1 → old worker completes; unpinned once the workers are new; an unpinned producer beside an old worker never runs with the wrong type', async () => {
    const prefix = newPrefix('rolling-reverse');
    const old = worker('old', prefix);
    await old.until((l) => l.includes('ready'), 'the old worker');
    const pinned = await produce('pinned', prefix, 'pinned', 5);
    await old.until(ranAll(pinned), 'the pinned jobs to run on the old worker');
    pinned.forEach((id, i) => expect(runs(old.lines).get(id)).toEqual({ to: `pinned-${i}@x.io` }));

    // The hazard: a producer unpinned too early, beside the old worker. Its jobs are never run by the old code
    // (each attempt fails: the version is newer than it knows), and end in the dead letters when its 2 attempts are used.
    const early = await produce('new', prefix, 'early', 3);
    await old.until((l) => early.every((id) => l.includes(`dead ${id} attempts_exhausted`)), 'the early jobs to die on the old worker');
    expect(early.filter((id) => runs(old.lines).has(id))).toEqual([]);
    expect(old.lines.filter((l) => l.startsWith('retrying ')).every((l) => l.endsWith(' PayloadVersionError'))).toBe(true);
    await old.stop();

    // The workers are new: pinned and unpinned producers' jobs run; the early ones, retried from the dead letters, too.
    const w = worker('new', prefix);
    await w.until((l) => l.includes('ready'), 'the new worker');
    const later = [...(await produce('pinned', prefix, 'stillpinned', 3)), ...(await produce('new', prefix, 'unpinned', 3))];
    const admin = createAdmin({ redis: redisUrl(), prefix });
    defer(() => admin.close());
    expect((await admin.bulk({ action: 'dead-retry', queue: 'mail', all: true })).done).toBe(3);
    await w.until(ranAll([...later, ...early]), 'every later and early job to run on the new worker');
    const seen = runs(w.lines);
    expect(later.map((id) => seen.get(id))).toEqual(['stillpinned-0', 'stillpinned-1', 'stillpinned-2', 'unpinned-0', 'unpinned-1', 'unpinned-2'].map((a) => ({ to: [`${a}@x.io`] })));
    expect(early.map((id) => seen.get(id))).toEqual([0, 1, 2].map((i) => ({ to: [`early-${i}@x.io`] })));
  });

  it('without versions + migration, check (against the old lockfile) and check --live flag it before the deploy; with them, they pass', async () => {
    const prefix = newPrefix('rolling-check');
    const env = { REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: prefix, NO_COLOR: '1' };
    const lock = await runCli(['lock', '--schema', schemaOf('old')], env);
    expect(lock.code, lock.stderr).toBe(0);
    const against = join(dir, 'old', 'jobs.lock.json');
    const stored = await produce('old', prefix, 'stored', 4);

    const naive = await runCli(['check', '--schema', schemaOf('naive'), '--against', against], env);
    expect(naive.code, naive.stdout + naive.stderr).toBe(2);
    expect(naive.stdout).toContain('sendEmail');
    const naiveLive = await runCli(['check', '--live', '--schema', schemaOf('naive'), '--json'], env);
    expect(naiveLive.code, naiveLive.stderr).toBe(2);
    expect(JSON.parse(naiveLive.stdout)).toMatchObject({ verdict: 'would_fail', failing: 4 });

    // The safe order: pinned first (both checks pass), unpinning only once the workers are new.
    const pinned = await runCli(['check', '--schema', schemaOf('pinned'), '--against', against], env);
    expect(pinned.code, pinned.stdout + pinned.stderr).toBe(0);
    const unpinned = await runCli(['check', '--schema', schemaOf('new'), '--against', against], env);
    expect(unpinned.code, unpinned.stdout).toBe(2);
    const live = await runCli(['check', '--live', '--schema', schemaOf('new'), '--json'], env);
    expect(live.code, live.stderr).toBe(0);
    expect(JSON.parse(live.stdout)).toMatchObject({ verdict: 'ok', failing: 0, scanned: 4 });

    // The verdicts are true: a worker of the naive code dead-letters every stored job.
    const w = worker('naive', prefix);
    await w.until((l) => stored.every((id) => l.includes(`dead ${id} invalid_payload`)), 'the naive worker to dead-letter the stored jobs');
    expect(runs(w.lines).size).toBe(0);
  });
});
