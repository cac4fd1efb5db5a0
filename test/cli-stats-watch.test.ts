/**
 * `jobcraft stats --watch` end to end: the real command on a pseudo-terminal (util-linux `script`, so stdout is a
 * TTY and the command redraws in place), against the real Redis on its own prefix. The queue changes between two
 * refreshes; a later frame shows the change; Ctrl-C (typed into the terminal: the line discipline sends SIGINT) ends
 * it with the documented exit code 0 (docs/operations.md, "Exit codes" and `jobcraft stats`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from '../src/index.js';
import { jobs } from '../jobs.schema.js';
import { runCli } from './cli.js';
import { queueRegistryKey } from '../src/keys.js';
import { deletePrefix, rawRedis, redisUrl, testPrefix, waitFor } from './helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const prefix = testPrefix('cli-stats-watch');
const client = createClient(jobs, { redis: redisUrl(), prefix });
const raw = rawRedis();
const hasScript = spawnSync('script', ['--version']).status === 0;

afterAll(async () => {
  await client.close();
  await deletePrefix(raw, prefix);
  raw.disconnect();
});

/** Cursor home + clear to the end of the screen: what starts each in-place redraw. */
const REDRAW = '\u001b[H\u001b[J';

/** The `email` row's WAITING count in each frame printed so far (frames without the row are skipped). */
function waitingPerFrame(out: string): number[] {
  return out
    .split(REDRAW)
    .slice(1)
    .flatMap((frame) => {
      const m = /^email\s+(\d+)\s/m.exec(frame.replace(/\r/g, ''));
      return m === null ? [] : [Number(m[1])];
    });
}

const welcome = (n: number): { userId: string; email: string }[] => Array.from({ length: n }, (_, i) => ({ userId: `w${i}`, email: `w${i}@example.com` }));

describe('jobcraft stats --watch', () => {
  it.skipIf(!hasScript)('redraws in place on a terminal, shows a change made between refreshes, and exits 0 on Ctrl-C', async () => {
    await client.enqueueMany('sendWelcomeEmail', welcome(2));
    // `exec`: script runs the command with $SHELL -c, or /bin/sh (dash) when SHELL is unset, as under CI; a shell left
    // waiting as the parent dies of the Ctrl-C itself (exit 130) whatever the command does, so it must not stay.
    const command = `exec ${JSON.stringify(process.execPath)} bin/jobcraft.js stats --watch --interval 200ms`;
    // -q quiet, -f flush each write, -e exit with the command's own code, -c the command; no typescript file.
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: prefix, NO_COLOR: '1', TERM: 'xterm' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => waitingPerFrame(out).includes(2), 'a frame with 2 waiting jobs', 20_000);
      const framesBefore = waitingPerFrame(out).length;
      await client.enqueueMany('sendWelcomeEmail', welcome(3));
      await waitFor(() => waitingPerFrame(out).includes(5), 'a later frame with 5 waiting jobs', 20_000);
      const counts = waitingPerFrame(out);
      // The change shows in a frame printed after the ones that showed 2, and never before.
      expect(counts.indexOf(5)).toBeGreaterThanOrEqual(framesBefore);
      expect(counts.slice(0, counts.indexOf(5)).every((n) => n === 2)).toBe(true);
      // Every frame starts with the redraw sequence (in place), and the header is printed once per frame.
      expect(out.startsWith(REDRAW)).toBe(true);
      expect(out.split(REDRAW).length - 1).toBe(out.match(/Ctrl-C to stop/g)?.length);
      child.stdin.write('\u0003'); // Ctrl-C typed on the terminal
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('piped, prints one snapshot after another with no cursor control; with --json one JSON line per refresh', async () => {
    await client.enqueueMany('sendWelcomeEmail', welcome(1));
    let text = '';
    let json = '';
    const env = { REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: prefix, NO_COLOR: '1' };
    const [piped, lines] = await Promise.all([
      runCli(['stats', '--watch', '--interval', '200ms'], env, (child) => {
        child.stdout?.on('data', (c: Buffer) => {
          text += c.toString();
          if ((text.match(/Ctrl-C to stop/g)?.length ?? 0) >= 2 && !child.killed) child.kill('SIGINT');
        });
      }),
      runCli(['stats', '--watch', '--interval', '200ms', '--json'], env, (child) => {
        child.stdout?.on('data', (c: Buffer) => {
          json += c.toString();
          if (json.split('\n').filter((l) => l !== '').length >= 2 && !child.killed) child.kill('SIGINT');
        });
      }),
    ]);
    expect(piped.code).toBe(0);
    expect(piped.stdout).not.toContain('\u001b');
    expect(piped.stdout).toMatch(/Ctrl-C to stop\nQUEUE\s+WAITING[^]*\n\n[^\n]*Ctrl-C to stop\nQUEUE\s+WAITING/);
    expect(lines.code).toBe(0);
    const docs = lines.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { queues: { queue: string; waiting: number }[] });
    expect(docs.length).toBeGreaterThanOrEqual(2);
    for (const d of docs) expect(d.queues.find((q) => q.queue === 'email')?.waiting).toBeGreaterThan(0);
  });

  it('--json carries no control character a terminal acts on, whatever the registry holds', async () => {
    const own = testPrefix('cli-stats-watch-esc');
    // A registry field with C1 CSI and a bidi override, written by someone with access to Redis: no queue name, so
    // it is left out; the NDJSON goes through the same escaping as every --json output besides.
    await raw.hset(queueRegistryKey(own), 'q\u009b31m\u202e', '{"throttled":[]}', 'real', '{"throttled":[]}');
    try {
      let json = '';
      const r = await runCli(['stats', '--watch', '--interval', '200ms', '--json'], { REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: own }, (child) => {
        child.stdout?.on('data', (c: Buffer) => {
          json += c.toString();
          if (json.includes('\n') && !child.killed) child.kill('SIGINT');
        });
      });
      expect(r.code).toBe(0);
      expect(r.stdout).not.toMatch(/[\u007f-\u009f\u202e]/);
      expect((JSON.parse(r.stdout.split('\n')[0] as string) as { queues: { queue: string }[] }).queues.map((q) => q.queue)).toEqual(['real']);
    } finally {
      await deletePrefix(raw, own);
    }
  });

  it('ends quietly with 0 when the reader of its output goes away (| head)', async () => {
    let seen = false;
    const r = await runCli(['stats', '--watch', '--interval', '200ms'], { REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: prefix, NO_COLOR: '1' }, (child) => {
      child.stdout?.once('data', () => {
        seen = true;
        child.stdout?.destroy(); // the reading end closes: its next write fails with EPIPE
      });
    });
    expect(seen).toBe(true);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('refuses an interval it cannot wait (over a day: a timer that long would fire at once, in a loop)', async () => {
    const r = await runCli(['stats', '--watch', '--interval', '9999999s'], { REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: prefix, NO_COLOR: '1' }, (child) => {
      // Were it accepted, it would print frames until stopped.
      child.stdout?.once('data', () => child.kill('SIGINT'));
    });
    expect(r.stderr).toMatch(/--interval/);
    expect(r.code).toBe(2);
  });
});
