/**
 * Writing generated/ so that it is never half-written: every file goes to a fresh sibling folder first, which then
 * replaces the old folder. And the comparison `--check` makes.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { GENERATED_MARK } from './emit-common.js';
import type { GeneratedFile } from './generate.js';
import { UsageError } from './problems.js';

/** Files of a folder, recursively, by path relative to it. */
function listFiles(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...listFiles(join(dir, entry.name), rel));
    else out.push(rel);
  }
  return out.sort();
}

/** Files we may replace: ones we generate, ones carrying our mark, and placeholder files. */
function isOurs(dir: string, rel: string, planned: ReadonlySet<string>): boolean {
  if (planned.has(rel) || rel === '.gitkeep') return true;
  try {
    return readFileSync(join(dir, rel), 'utf8').slice(0, 300).includes(GENERATED_MARK);
  } catch {
    return false;
  }
}

/** What differs between the folder and the files: each stale, missing or leftover file, by relative path. */
export function staleFiles(outDir: string, files: readonly GeneratedFile[]): string[] {
  const planned = new Map(files.map((f) => [f.path, f.contents]));
  const stale: string[] = [];
  for (const [path, contents] of planned) {
    const target = join(outDir, path);
    if (!existsSync(target) || readFileSync(target, 'utf8') !== contents) stale.push(path);
  }
  for (const path of listFiles(outDir)) if (!planned.has(path)) stale.push(path);
  return stale.sort();
}

/**
 * Makes `outDir` hold exactly `files`. Returns the paths that changed (none when it was up to date, and then
 * nothing is touched). Refuses to replace a folder holding files it did not generate.
 */
export function writeOutput(outDir: string, files: readonly GeneratedFile[]): string[] {
  const changed = staleFiles(outDir, files);
  if (changed.length === 0) return [];
  if (existsSync(outDir)) {
    if (!statSync(outDir).isDirectory()) throw new UsageError(`${outDir} exists and is not a folder`);
    const planned = new Set(files.map((f) => f.path));
    const foreign = listFiles(outDir).filter((rel) => !isOurs(outDir, rel, planned));
    if (foreign.length > 0) {
      throw new UsageError(
        `refusing to replace ${outDir}: it holds files codegen did not write (${foreign.slice(0, 5).join(', ')}); choose another --out or move them`,
      );
    }
  }
  const parent = dirname(outDir);
  mkdirSync(parent, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const fresh = join(parent, `.${basename(outDir)}.new-${tag}`);
  const old = join(parent, `.${basename(outDir)}.old-${tag}`);
  try {
    for (const file of files) {
      const target = join(fresh, file.path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, file.contents);
    }
    if (existsSync(outDir)) renameSync(outDir, old);
    try {
      renameSync(fresh, outDir);
    } catch (err) {
      if (existsSync(old)) renameSync(old, outDir);
      throw err;
    }
  } finally {
    rmSync(fresh, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  }
  return changed;
}
