/**
 * The compiler's V8 code cache in `<tmpdir>/jobcraft-codegen-cache-<uid>/` (codegen/typescript.ts) only ever saves
 * time: a damaged cache file, or one another user could have written, must not crash the command or change what it
 * does. Each test gives the command its own temporary folder (TMPDIR), so the machine's cache is left alone.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const temps: string[] = [];

afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** `jobcraft codegen --check` on the repository's own schema, with `tmp` as the system's temporary folder. */
function check(tmp: string): { status: number | null; signal: NodeJS.Signals | null; output: string } {
  const r = spawnSync(process.execPath, ['bin/jobcraft.js', 'codegen', '--check'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, TMPDIR: tmp, JOBCRAFT_CODEGEN_CODE_CACHE: '1' },
    timeout: 120_000,
  });
  return { status: r.status, signal: r.signal, output: `${r.stdout}${r.stderr}`.slice(0, 2000) };
}

function cacheFolder(tmp: string): string {
  return join(tmp, `jobcraft-codegen-cache-${process.getuid?.() ?? 'user'}`);
}

it('a cache file damaged in the middle (same size) is not handed to V8: the command still works', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'jobcraft-cache-test-'));
  temps.push(tmp);
  expect(check(tmp)).toMatchObject({ status: 0 });
  const folder = cacheFolder(tmp);
  const files = readdirSync(folder).filter((f) => f.endsWith('.bin'));
  expect(files.length).toBeGreaterThan(0);
  for (const file of files) {
    const data = readFileSync(join(folder, file));
    // Overwrite 4 KiB in the middle with other bytes, as a bad disk block or a partial overwrite would.
    for (let i = 0; i < 4096; i++) {
      const at = Math.floor(data.length / 2) + i;
      data[at] = (data[at] ?? 0) ^ 0x5a;
    }
    writeFileSync(join(folder, file), data);
  }
  const second = check(tmp);
  expect(second, second.output).toMatchObject({ status: 0, signal: null });
  // And the damaged files were replaced by good ones: the run after that uses them.
  expect(check(tmp)).toMatchObject({ status: 0, signal: null });
}, 240_000);

it('a library-texts file whose digest matches but whose data is not the texts is not used, and is rewritten', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'jobcraft-cache-test-'));
  temps.push(tmp);
  expect(check(tmp)).toMatchObject({ status: 0 });
  const folder = cacheFolder(tmp);
  const [libs] = readdirSync(folder).filter((f) => /-libs-[0-9a-f]{24}\.bin$/.test(f));
  expect(libs).toBeDefined();
  const path = join(folder, libs as string);
  const good = readFileSync(path);
  // Well-formed for the cache (its SHA-256 first), but not the [fileName, text] pairs: an empty list of libraries
  // would change every type, so it must be refused as a whole.
  for (const json of ['[]', '{"lib.es5.d.ts":"x"}', '[["lib.es5.d.ts",1]]']) {
    const data = Buffer.from(json);
    writeFileSync(path, Buffer.concat([createHash('sha256').update(data).digest(), data]));
    const r = check(tmp);
    expect(r, r.output).toMatchObject({ status: 0, signal: null });
    expect(readFileSync(path).equals(good)).toBe(true);
  }
}, 240_000);

it.skipIf(process.getuid === undefined)('a cache folder anyone can write to is not used', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'jobcraft-cache-test-'));
  temps.push(tmp);
  const folder = cacheFolder(tmp);
  // Another user got there first: the folder is writable by everyone, so its files could be anyone's.
  mkdirSync(folder);
  chmodSync(folder, 0o777);
  expect(check(tmp)).toMatchObject({ status: 0 });
  expect(readdirSync(folder)).toEqual([]);
  expect(statSync(folder).mode & 0o777).toBe(0o777);
}, 240_000);

it('a temporary folder nothing can be created in: the command works without caches (and does not hang)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'jobcraft-cache-test-'));
  temps.push(tmp);
  // A path under a plain file: creating anything there fails, for root too.
  writeFileSync(join(tmp, 'file'), '');
  const r = spawnSync(process.execPath, ['bin/jobcraft.js', 'codegen', '--check'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, TMPDIR: join(tmp, 'file', 'tmp') },
    timeout: 60_000,
  });
  expect({ status: r.status, signal: r.signal }, `${r.stdout}${r.stderr}`).toEqual({ status: 0, signal: null });
}, 120_000);

it('the folder does not grow without bound: a run that writes its cache keeps its own files and the 4 used most recently', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'jobcraft-cache-test-'));
  temps.push(tmp);
  const folder = cacheFolder(tmp);
  mkdirSync(folder, { mode: 0o700 });
  // Caches of earlier compiler installs / Node versions, used 1 to 7 days ago; a write killed 2 days ago; a file the
  // cache did not write.
  const day = 24 * 60 * 60 * 1000;
  const stale = Array.from({ length: 7 }, (_, i) => ({ name: `typescript-${String(i).repeat(24)}.bin`, age: (i + 1) * day }));
  for (const { name, age } of stale) {
    writeFileSync(join(folder, name), 'old cache');
    utimesSync(join(folder, name), new Date(Date.now() - age), new Date(Date.now() - age));
  }
  const leftover = `typescript-${'a'.repeat(24)}.bin.1234.tmp`;
  writeFileSync(join(folder, leftover), 'half written');
  utimesSync(join(folder, leftover), new Date(Date.now() - 2 * day), new Date(Date.now() - 2 * day));
  writeFileSync(join(folder, 'notes.txt'), 'not a cache file');

  expect(check(tmp)).toMatchObject({ status: 0, signal: null });
  const after = readdirSync(folder).sort();
  // The 4 most recent others stay; the 3 oldest and the old temporary file are gone; the foreign file is left alone.
  expect(after.filter((f) => stale.some((s) => s.name === f))).toEqual(stale.slice(0, 4).map((s) => s.name).sort());
  expect(after).not.toContain(leftover);
  expect(after).toContain('notes.txt');
  // This run's own cache files (written now) are there, and the next run leaves them in place.
  const own = after.filter((f) => f.endsWith('.bin') && !stale.some((s) => s.name === f));
  expect(own.length).toBeGreaterThan(0);
  const sizes = own.map((f) => statSync(join(folder, f)).size);
  expect(check(tmp)).toMatchObject({ status: 0, signal: null });
  expect(readdirSync(folder).filter((f) => own.includes(f)).map((f) => statSync(join(folder, f)).size)).toEqual(sizes);
}, 240_000);

it('JOBCRAFT_CODEGEN_CODE_CACHE=0: nothing is written and nothing is pruned', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'jobcraft-cache-test-'));
  temps.push(tmp);
  const folder = cacheFolder(tmp);
  mkdirSync(folder, { mode: 0o700 });
  const old = Array.from({ length: 6 }, (_, i) => `typescript-${String(i).repeat(24)}.bin`);
  for (const name of old) writeFileSync(join(folder, name), 'old cache');
  const r = spawnSync(process.execPath, ['bin/jobcraft.js', 'codegen', '--check'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, TMPDIR: tmp, JOBCRAFT_CODEGEN_CODE_CACHE: '0' },
    timeout: 120_000,
  });
  expect({ status: r.status, signal: r.signal }, `${r.stdout}${r.stderr}`).toEqual({ status: 0, signal: null });
  expect(readdirSync(folder).sort()).toEqual([...old].sort());
}, 240_000);
