/**
 * The rolling deploy of issue 13's "done means", with real processes on a real Redis: an old producer process and a
 * new worker process (and the reverse) share a queue while jobs stored under the old schema wait. With a version and
 * its migration every job completes and the new handler sees the new type; producers pinned to the old version
 * (`emitVersion`) write jobs the old workers run; unpinned new producers' jobs are never run by an old worker (their
 * attempts fail with PayloadVersionError) and run once a new worker is deployed. The processes are
 * test/fixtures/rolling-process.ts.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, defineJobs } from '../src/index.js';
import { cleanupRegistry, deletePrefix, rawRedis, redisUrl, testPrefix, waitFor } from './helpers.js';

const defer = cleanupRegistry();
const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Proc {
  /** Lines printed so far. */
  readonly lines: string[];
  /** Resolves with the exit code once the process ends. */
  readonly exited: Promise<number | null>;
}

function start(role: string, prefix: string, count = 5): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/rolling-process.ts'], {
    cwd: ROOT,
    env: { ...process.env, REDIS_URL: redisUrl(), JC_PREFIX: prefix, JC_ROLE: role, JC_COUNT: String(count) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let pending = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    lines.push(...parts);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      if (code !== 0 && code !== null) lines.push(`stderr: ${stderr}`);
      resolve(code);
    }),
  );
  defer(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return {
    lines,
    exited,
  };
}

async function produce(role: string, prefix: string): Promise<string[]> {
  const p = start(role, prefix);
  expect(await p.exited, p.lines.join('\n')).toBe(0);
  return p.lines.filter((l) => l.startsWith('enqueued ')).map((l) => l.slice('enqueued '.length));
}

/** What each job id's handler received, once every id in `ids` ran in `worker`. */
async function ranAll(worker: Proc, ids: readonly string[]): Promise<Map<string, unknown>> {
  return waitFor(
    () => {
      const ran = new Map<string, unknown>();
      for (const line of worker.lines) {
        const m = /^ran (\S+) (.*)$/.exec(line);
        if (m) ran.set(m[1] as string, JSON.parse(m[2] as string));
      }
      return ids.every((id) => ran.has(id)) ? ran : undefined;
    },
    `${ids.length} jobs to run`,
    60_000,
  );
}

function setup(name: string): string {
  const prefix = testPrefix(name);
  const raw = rawRedis();
  defer(async () => {
    await deletePrefix(raw, prefix);
    raw.disconnect();
  });
  return prefix;
}

describe('a rolling deploy of a versioned payload, process by process', { timeout: 120_000 }, () => {
  it('old producer → new worker: every job stored under the old schema completes, the handler seeing the new type', async () => {
    const prefix = setup('rolling-old-new');
    const ids = await produce('old-producer', prefix);
    expect(ids).toHaveLength(5);
    const ran = await ranAll(start('new-worker', prefix), ids);
    ids.forEach((id, i) => expect(ran.get(id)).toEqual({ to: [`u${i}@x.io`], subject: '(none)' }));
  });

  it('pinned new producer → old worker: it runs them with its own type; unpinned new producer → old worker: never run, run by the new worker once deployed', async () => {
    const prefix = setup('rolling-new-old');
    const oldWorker = start('old-worker', prefix);
    const pinned = await produce('pinned-producer', prefix);
    const ran = await ranAll(oldWorker, pinned);
    pinned.forEach((id, i) => expect(ran.get(id)).toEqual({ to: `u${i}@x.io` }));

    const newer = await produce('new-producer', prefix);
    // The old worker leases them and fails their attempts (a version it does not know): they are retried, not run.
    const client = createClient(defineJobs({ sendEmail: { payload: z.unknown() } }), { redis: redisUrl(), prefix });
    defer(() => client.close());
    await waitFor(async () => {
      const infos = await Promise.all(newer.map((id) => client.getJob(id)));
      return infos.every((j) => j !== null && j.attempts >= 1 && j.errors.some((e) => /PayloadVersionError|payload version 2/.test(`${e.name ?? ''} ${e.message}`)));
    }, 'the old worker to fail an attempt of each newer job', 60_000);
    expect(oldWorker.lines.filter((l) => newer.some((id) => l.startsWith(`ran ${id} `)))).toEqual([]);
    for (const id of newer) expect((await client.getJob(id))?.state).not.toBe('dead');

    const after = await ranAll(start('new-worker', prefix), newer);
    newer.forEach((id, i) => expect(after.get(id)).toEqual({ to: [`u${i}@x.io`], subject: `s${i}` }));
  });
});
