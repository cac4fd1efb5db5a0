/**
 * The Chromium the browser tests and the screenshot script drive through playwright-core: Debian's `chromium`
 * package, never a browser downloaded by Playwright.
 *
 *   tsx scripts/chromium.ts --ensure   installs it with apt-get when it is missing and we run as root (`npm test` runs
 *                                      this first); otherwise prints a boxed notice and exits 0, and the browser tests
 *                                      skip themselves visibly (test/global-setup.ts repeats the notice at the start
 *                                      and the end of the run)
 *
 * `CHROMIUM_PATH` points at another Chromium (default /usr/bin/chromium).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the browser is expected. */
export const chromiumPath = (): string => process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Launch arguments: headless, no sandbox (tests run as root in containers), and none of the background traffic
 * (updates, sync, field trials) a browser makes on its own.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The test files that need the browser (named in the notice when they cannot run). */
export const BROWSER_TEST_FILES: readonly string[] = ['test/dashboard-browser.test.ts', 'test/screenshots.test.ts'];

/** How to get the browser on a machine where it is missing. */
export const INSTALL_HINT = 'sudo apt-get install -y chromium   (Debian/Ubuntu; or set CHROMIUM_PATH to a Chromium binary)';

/** Why the browser cannot be used, or undefined when it is there. */
export function chromiumMissing(): string | undefined {
  const path = chromiumPath();
  try {
    accessSync(path, constants.X_OK);
    return undefined;
  } catch {
    return `no Chromium at ${path}`;
  }
}

/** `lines` in a box of `#`, so it stands out in a long test log. */
export function boxed(lines: readonly string[]): string {
  const width = Math.max(...lines.map((l) => l.length));
  const edge = '#'.repeat(width + 6);
  return ['', edge, ...lines.map((l) => `## ${l.padEnd(width)} ##`), edge, ''].join('\n');
}

/** The notice printed when the browser tests cannot run. */
export function missingNotice(reason: string): string {
  return boxed([
    `BROWSER TESTS SKIPPED: ${reason}.`,
    'These files did not run (their tests are reported as skipped, not passed):',
    ...BROWSER_TEST_FILES.map((f) => `  ${f}`),
    'To run them, install Debian\'s Chromium and run the tests again:',
    `  ${INSTALL_HINT}`,
  ]);
}

/**
 * Makes sure the browser is there: when it is missing, we are root and apt-get exists, installs the `chromium`
 * package. Returns why it is still missing, or undefined.
 */
export function ensureChromium(log: (text: string) => void = (t) => process.stderr.write(`${t}\n`)): string | undefined {
  const missing = chromiumMissing();
  if (missing === undefined) return undefined;
  const root = process.getuid?.() === 0;
  const apt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!root || !apt || process.env.CHROMIUM_PATH !== undefined) {
    return `${missing} (${!root ? 'not root, so not installing it' : !apt ? 'no apt-get to install it with' : 'CHROMIUM_PATH is set'})`;
  }
  log(`${missing}: installing Debian's chromium package with apt-get (once; the browser tests need it)…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const install = update.status === 0 ? spawnSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env }) : update;
  const still = chromiumMissing();
  if (still === undefined) return undefined;
  return `${still} (apt-get ${update.status === 0 ? 'install' : 'update'} exited with ${install.status ?? install.signal})`;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (!process.argv.includes('--ensure')) {
    console.error('usage: tsx scripts/chromium.ts --ensure');
    process.exit(2);
  }
  const reason = ensureChromium();
  if (reason !== undefined) process.stderr.write(`${missingNotice(reason)}\n`);
}
