/**
 * The quick chaos run (`npm run chaos -- --quick`): 3,000 jobs (a tenth of them the steps of 100 three-step chains, a twentieth 10 fan-ins of 14 children) while workers are SIGKILLed every 1–3 s, one is
 * stopped with SIGTERM, Redis is shut down and restarted on its AOF, one job type fails at random, and one worker is
 * cut off from Redis (a partition) for longer than its lease. It must lose nothing, run no job on two workers at
 * once, and every count must add up (the run's own verdict, scripts/chaos/analysis.ts). See
 * docs/reliability.md for the full run.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', 'chaos', '--', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => resolve({ code, out }));
  });
}

describe('npm run chaos -- --quick', () => {
  it('loses no job while workers are killed, Redis restarts and handlers fail', async () => {
    const { code, out } = await run(['--quick']);
    const summary = out.slice(out.indexOf('== chaos summary'));
    expect(summary, out).toMatch(/RESULT: PASS/);
    expect(code, summary).toBe(0);
    expect(summary).toMatch(/^lost +0$/m);
    expect(summary).toMatch(/^enqueued +3000 /m);
    expect(summary).toMatch(/unexplained: 0\)/);
    // The chaos really happened.
    expect(summary).toMatch(/^SIGKILLs +[1-9]/m);
    expect(summary).toMatch(/^Redis restart +down/m);
    expect(summary).toMatch(/attempts_exhausted \(FlakyEndpointError\): [1-9]/);
    // A worker was cut off from Redis for longer than its lease, other workers took its jobs over meanwhile, and
    // none ran on two workers at once (its handlers were stopped by their signal first).
    expect(summary).toMatch(/^partition +worker \d+ cut off .* [1-9]\d* job\(s\) taken over by other workers meanwhile$/m);
    expect(summary).toMatch(/^concurrent runs +0 job\(s\)/m);
    // Chains (a tenth of the jobs: 100 chains of 3 steps over the three queues) lose no step: every chain ran to its end.
    expect(summary).toMatch(/^chains +100 enqueued .*, 100 ran every step$/m);
    expect(summary).toMatch(/chainFirst 100, chainSecond 100, chainThird 100, fanParent 10, fanChild 140\)/);
    // Fan-ins (10 parents of 14 children each): every parent ran with every child's result, in child order.
    expect(summary).toMatch(/^fan-ins +10 enqueued .*, 10 parents ran with every child's result$/m);
  }, 150_000);
});
