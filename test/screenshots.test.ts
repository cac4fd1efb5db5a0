/**
 * The screenshot script (scripts/screenshots.ts) end to end, into a temporary folder: it seeds its demo dataset,
 * serves the dashboard, shoots every page of its list in Chromium (failing on any page error or non-200 answer)
 * and leaves no key behind.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SHOTS, takeScreenshots } from '../scripts/screenshots.js';
import { browserMissing, skipReason } from './browser.js';
import { rawRedis } from './helpers.js';

/** Width and height from a PNG's IHDR chunk, or undefined when the bytes are not a PNG. */
function pngSize(bytes: Buffer): { width: number; height: number } | undefined {
  if (!bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return undefined;
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

describe.skipIf(browserMissing !== undefined)('screenshot script', () => {
  it('writes a PNG of every listed page and deletes its dataset', async () => {
    const out = mkdtempSync(join(tmpdir(), 'jobcraft-shots-'));
    try {
      const { files, prefix } = await takeScreenshots(out);
      expect(files.map((f) => basename(f))).toEqual(SHOTS.map((s) => s.file));
      for (const file of files) {
        const size = pngSize(readFileSync(file));
        expect(size, file).toBeDefined();
        expect(size?.width, file).toBe(1280);
        expect(size?.height, file).toBeGreaterThanOrEqual(800);
      }
      const redis = rawRedis();
      try {
        const left: string[] = [];
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
          cursor = next;
          left.push(...keys);
        } while (cursor !== '0');
        expect(left).toEqual([]);
      } finally {
        redis.disconnect();
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});

if (browserMissing !== undefined) {
  describe('screenshot script (skipped)', () => {
    it('writes a PNG of every listed page', (ctx) => {
      ctx.skip(skipReason());
    });
  });
}
