/** `pause` (src/timeout.ts): the pacing wait of bulk runs and the live check, cut short by their signal. */
import { describe, expect, it } from 'vitest';
import { pause } from '../../src/timeout.js';

describe('pause', () => {
  it('ends when its signal aborts, long before its time, and at once when the signal already has', async () => {
    const controller = new AbortController();
    const waiting = pause(3_600_000, controller.signal);
    controller.abort();
    await expect(waiting).resolves.toBeUndefined();
    await expect(pause(3_600_000, controller.signal)).resolves.toBeUndefined();
  });

  it('waits its time without a signal', async () => {
    await expect(pause(1, undefined)).resolves.toBeUndefined();
  });
});
