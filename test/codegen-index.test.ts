/**
 * The generated index is all a service imports: it re-exports the runtime's error classes (the very classes the
 * runtime throws, so `instanceof` works) and the types handlers use. test/codegen-types.ts compiles a service that
 * imports nothing else.
 */
import { describe, expect, it } from 'vitest';
import * as generated from '../generated/index.js';
import * as runtime from '../src/index.js';

describe('generated/index.ts', () => {
  it('re-exports every error class of the runtime, as the same objects', () => {
    const errorClasses = Object.entries(runtime).filter(([name, value]) => typeof value === 'function' && /(Error|Signal)$/.test(name));
    expect(errorClasses.length).toBeGreaterThanOrEqual(12);
    const exported = generated as Record<string, unknown>;
    for (const [name, value] of errorClasses) expect(exported[name], name).toBe(value);
    expect(exported.silentLogger).toBe(runtime.silentLogger);
  });

  it('keeps its own createWorker, not the runtime’s', () => {
    expect(generated.createWorker).not.toBe(runtime.createWorker);
  });
});
