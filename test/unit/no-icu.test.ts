/**
 * The runtime (src/) never asks ICU for locale data on its common paths: the first `toLocaleString`,
 * `localeCompare` or `Intl` object of a process maps Node's ICU data, about 7 MB of RSS in every producer and worker
 * (docs/benchmarks.md, "Memory, round 3"). The one exception is checking a cron job's time zone, which cron needs
 * anyway. Reads src/**\/*.ts without comments and fails naming the file and line of any other use.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');
const ICU = /\b(toLocale\w*String|localeCompare)\s*\(|\bIntl\./;
/** file → the one line allowed to use ICU there (checkCron: a cron job's time zone). */
const ALLOWED = new Map([['job-options.ts', "new Intl.DateTimeFormat('en', { timeZone: tz as string });"]]);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The code of a line, without a trailing `//` comment; block-comment lines (TSDoc) are left out by the caller. */
const codeOf = (line: string): string => line.replace(/\/\/.*$/, '');

describe('no ICU on the runtime paths', () => {
  it('src/ uses toLocaleString, localeCompare or Intl nowhere but in the cron time-zone check', () => {
    const uses: string[] = [];
    for (const file of sources(SRC)) {
      const name = relative(SRC, file);
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          const trimmed = line.trim();
          if (trimmed.startsWith('*') || trimmed.startsWith('/*') || trimmed.startsWith('//')) return;
          if (!ICU.test(codeOf(line))) return;
          if (ALLOWED.get(name) === trimmed) return;
          uses.push(`src/${name}:${i + 1}: ${trimmed}`);
        });
    }
    expect(uses).toEqual([]);
  });

  it('finds such a use (the check itself works)', () => {
    expect(ICU.test(codeOf('const s = n.toLocaleString("en");'))).toBe(true);
    expect(ICU.test(codeOf('a.localeCompare(b)'))).toBe(true);
    expect(ICU.test(codeOf('new Intl.NumberFormat()'))).toBe(true);
    expect(ICU.test(codeOf('const s = groupDigits(n); // not toLocaleString("en")'))).toBe(false);
  });
});
