/**
 * The static files: the dashboard's own script and style sheet (dashboard/assets/, shipped in the package) and
 * uPlot's from its installed package, resolved at run time (no CDN, no build step). Read once, kept in memory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** A static file. */
export interface Asset {
  readonly body: string;
  readonly type: string;
}

/** The assets folder: beside this file in the repository (dashboard/*.ts), one up from dist/ in the package. */
function assetsDir(): string {
  for (const rel of ['./assets/', '../assets/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}dashboard.js`)) return dir;
  }
  throw new Error('@jobcraft/dashboard: its assets folder is missing (a broken install?)');
}

/** Every static file by the name the pages link it by. */
export function loadAssets(): ReadonlyMap<string, Asset> {
  const dir = assetsDir();
  const require = createRequire(import.meta.url);
  const js = 'text/javascript; charset=utf-8';
  const css = 'text/css; charset=utf-8';
  return new Map<string, Asset>([
    ['dashboard.js', { body: readFileSync(`${dir}dashboard.js`, 'utf8'), type: js }],
    ['dashboard.css', { body: readFileSync(`${dir}dashboard.css`, 'utf8'), type: css }],
    ['uPlot.iife.min.js', { body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'), type: js }],
    ['uPlot.min.css', { body: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'), type: css }],
  ]);
}
