/**
 * pruneCache (codegen/typescript.ts): which files of the code cache folder a write deletes. Runs on a temporary
 * folder; the machine's cache is not touched.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { KEEP_OTHERS, pruneCache } from '../../codegen/typescript.js';

const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.UTC(2026, 11, 2);
let folder = '';

afterEach(() => rmSync(folder, { recursive: true, force: true }));

function file(name: string, ageMs: number): string {
  const path = join(folder, name);
  writeFileSync(path, 'x');
  utimesSync(path, new Date(NOW - ageMs), new Date(NOW - ageMs));
  return path;
}

const cacheName = (i: number, script = 'typescript'): string => `${script}-${i.toString(16).padStart(24, '0')}.bin`;

it('keeps the files in use and the most recently used others; deletes the rest', () => {
  folder = mkdtempSync(join(tmpdir(), 'jobcraft-prune-'));
  const own = [file(cacheName(100), 30 * DAY), file(cacheName(101, 'ts-morph-common'), 30 * DAY)];
  for (let i = 0; i < 8; i++) file(cacheName(i), (i + 1) * DAY);
  pruneCache(folder, new Set(own), KEEP_OTHERS, NOW);
  expect(readdirSync(folder).sort()).toEqual([cacheName(101, 'ts-morph-common'), ...[0, 1, 2, 3, 100].map((i) => cacheName(i))].sort());
});

it('keeps as many others as asked, none with 0', () => {
  folder = mkdtempSync(join(tmpdir(), 'jobcraft-prune-'));
  for (let i = 0; i < 3; i++) file(cacheName(i), (i + 1) * DAY);
  pruneCache(folder, new Set(), 1, NOW);
  expect(readdirSync(folder)).toEqual([cacheName(0)]);
  pruneCache(folder, new Set(), 0, NOW);
  expect(readdirSync(folder)).toEqual([]);
});

it('deletes temporary files of writes older than an hour only, and never a file it did not write', () => {
  folder = mkdtempSync(join(tmpdir(), 'jobcraft-prune-'));
  const old = `${cacheName(1)}.4242.tmp`;
  const fresh = `${cacheName(2)}.4243.tmp`;
  file(old, 2 * 60 * 60 * 1000);
  file(fresh, 60 * 1000);
  for (const foreign of ['notes.txt', 'typescript-short.bin', 'typescript-zzzzzzzzzzzzzzzzzzzzzzzz.bin']) file(foreign, 90 * DAY);
  mkdirSync(join(folder, cacheName(3)));
  pruneCache(folder, new Set(), 0, NOW);
  expect(readdirSync(folder).sort()).toEqual(
    [fresh, 'notes.txt', 'typescript-short.bin', 'typescript-zzzzzzzzzzzzzzzzzzzzzzzz.bin', cacheName(3)].sort(),
  );
});

it('a missing folder is no error', () => {
  folder = join(tmpdir(), 'jobcraft-prune-missing-does-not-exist');
  expect(() => pruneCache(folder, new Set(), 0, NOW)).not.toThrow();
});
