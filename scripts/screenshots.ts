/**
 * Screenshots of the dashboard's main pages for the docs, taken from a live dashboard so they stay current:
 *
 *   npm run screenshots            seeds a demo dataset (scripts/dashboard-demo.ts) under a prefix of its own,
 *                                  serves the dashboard on a loopback port, writes docs/screenshots/*.png with
 *                                  Debian's Chromium, then deletes the dataset
 *   npm run screenshots -- --out DIR   somewhere else
 *
 * REDIS_URL picks the Redis (a throwaway redis-server when none answers); CHROMIUM_PATH the browser.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';
import { createDashboard } from '../dashboard/index.js';
import { jobs } from '../jobs.schema.js';
import { CHROMIUM_ARGS, chromiumMissing, chromiumPath, INSTALL_HINT } from './chromium.js';
import { seedDemo, type DemoDataset } from './dashboard-demo.js';
import { ensureRedis } from './redis-server.js';
import { serveFetch } from './serve-fetch.js';

/** One screenshot: the file it goes to and the page's path under the dashboard's root. */
export interface Shot {
  readonly file: string;
  readonly title: string;
  /** The whole page rather than the first screen (the job page: payload, error and timeline sit below its options). */
  readonly fullPage?: boolean;
  path(demo: Pick<DemoDataset, 'deadJobId' | 'completedJobId'>): string;
}

/** The pages shot, in the order the docs show them. */
export const SHOTS: readonly Shot[] = [
  { file: 'overview.png', title: 'Overview', path: () => '' },
  { file: 'queue.png', title: 'Queue', path: () => 'queues/email?state=waiting' },
  { file: 'job.png', title: 'Job', fullPage: true, path: (d) => `jobs/${encodeURIComponent(d.deadJobId)}` },
  { file: 'dead-letters.png', title: 'Dead letters', path: () => 'dead?queue=webhooks' },
  { file: 'workers.png', title: 'Workers', path: () => 'workers' },
];

/** Takes every screenshot into `outDir`; returns the files written and the key prefix the dataset lived under. */
export async function takeScreenshots(outDir: string, log: (line: string) => void = () => {}): Promise<{ files: string[]; prefix: string }> {
  const missing = chromiumMissing();
  if (missing !== undefined) throw new Error(`${missing}: the screenshots need Chromium. ${INSTALL_HINT}`);
  mkdirSync(outDir, { recursive: true });
  const redis = await ensureRedis();
  const prefix = `jcshots:${randomBytes(4).toString('hex')}`;
  let demo: DemoDataset | undefined;
  const dashboard = createDashboard({ redis: redis.url, prefix, jobs, pollMs: 0 });
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: [...CHROMIUM_ARGS] });
  const written: string[] = [];
  try {
    log(`seeding the demo dataset under ${prefix}:`);
    demo = await seedDemo(redis.url, prefix);
    const served = await serveFetch((request) => dashboard.fetch(request));
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, colorScheme: 'light' });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      page.on('console', (msg) => {
        if (msg.type() === 'error') errors.push(`${msg.text()} (${msg.location().url})`);
      });
      for (const shot of SHOTS) {
        const url = `${served.origin}/${shot.path(demo)}`;
        const response = await page.goto(url, { waitUntil: 'networkidle' });
        if (response === null || response.status() !== 200) throw new Error(`${url} answered ${response?.status() ?? 'nothing'}`);
        const file = join(outDir, shot.file);
        await page.screenshot({ path: file, fullPage: shot.fullPage === true });
        written.push(file);
        log(`  ${shot.title.padEnd(13)} ${url} → ${file}`);
      }
      if (errors.length > 0) throw new Error(`the pages reported errors:\n  ${errors.join('\n  ')}`);
      await context.close();
    } finally {
      await served.close();
    }
  } finally {
    await browser.close();
    await dashboard.close();
    await demo?.stop();
    await redis.stop();
  }
  return { files: written, prefix };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--out');
  const out = at === -1 ? fileURLToPath(new URL('../docs/screenshots', import.meta.url)) : resolve(process.argv[at + 1] ?? '.');
  takeScreenshots(out, (line) => console.log(line)).then(
    ({ files }) => console.log(`${files.length} screenshots written`),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(1);
    },
  );
}
