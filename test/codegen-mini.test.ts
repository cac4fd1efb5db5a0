/**
 * A schema file written with zod/mini (`import * as z from 'zod/mini'`): codegen describes it with zod core's
 * standalone z.toJSONSchema (mini schemas have no toJSONSchema method), writes the same plain types as for classic
 * zod (the committed output in test/codegen-fixtures/mini/generated, compiled by the root tsconfig and by the strict
 * matrix), and the generated functions enqueue and handle its jobs on a real Redis.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Generator, runCodegen, type Output } from '../codegen/index.js';
import { JobValidationError } from '../src/index.js';
import { createJobsClient, createWorker, type PlaceOrderInput, type PlaceOrderPayload } from './codegen-fixtures/mini/generated/index.js';
import { clearPrefix, redisUrl, testPrefix, waitFor } from './helpers.js';

const MINI = fileURLToPath(new URL('./codegen-fixtures/mini/', import.meta.url));
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('zod/mini schemas', () => {
  it('generate exactly the committed output (JSON Schema from the standalone z.toJSONSchema, computed default left out)', async () => {
    const errors: string[] = [];
    const out: Output = { log: () => {}, error: (l) => errors.push(l) };
    const code = await runCodegen({ schema: join(MINI, 'jobs.schema.ts'), out: join(MINI, 'generated'), check: true }, new Generator(), out);
    expect(errors).toEqual([]);
    expect(code).toBe(0);
  }, 60_000);

  it('enqueue takes the input form; the handler receives the output (defaults filled in, the date parsed)', async () => {
    const prefix = testPrefix('codegen-mini');
    const client = createJobsClient({ redis: redisUrl(), prefix });
    cleanups.push(async () => {
      await client.close();
      await clearPrefix(prefix);
    });
    const received: PlaceOrderPayload[] = [];
    const worker = createWorker({ placeOrder: (payload) => void received.push(payload) }, { redis: redisUrl(), prefix, logger: false });
    cleanups.push(() => worker.close());

    const order: PlaceOrderInput = {
      sku: 'abc-1',
      tags: ['gift'],
      shipTo: { kind: 'pickup', storeId: 's-9' },
      placedAt: '2026-12-02T08:00:00Z',
    };
    await client.enqueuePlaceOrder(order);
    await waitFor(() => received.length === 1, 'the placeOrder handler to run');
    const payload = received[0];
    expect(payload).toMatchObject({ sku: 'abc-1', quantity: 1, tags: ['gift'], shipTo: { kind: 'pickup', storeId: 's-9' } });
    expect(payload?.orderId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-/);
    expect(payload?.placedAt).toEqual(new Date('2026-12-02T08:00:00Z'));

    // The mini checks run at enqueue too: a two-letter sku is refused before anything is written.
    await expect(client.enqueuePlaceOrder({ ...order, sku: 'ab' })).rejects.toBeInstanceOf(JobValidationError);
  });
});
