/**
 * A schema file written with zod/mini (zod 4's functional, tree-shakable API): codegen describes it with the
 * standalone z.toJSONSchema and writes the same plain types as for classic zod. test/codegen-mini.test.ts generates
 * it, compiles the output and runs a job through it on a real Redis.
 */
import { randomUUID } from 'node:crypto';
import * as z from 'zod/mini';
import { defineJobs } from '../../../src/schema.js';

export const jobs = defineJobs({
  placeOrder: {
    description: 'Places an order.',
    payload: z.object({
      orderId: z._default(z.uuid(), () => randomUUID()),
      sku: z.string().check(z.minLength(3)),
      quantity: z._default(z.number().check(z.int(), z.positive()), 1),
      note: z.optional(z.nullable(z.string())),
      tags: z.array(z.enum(['gift', 'express'])),
      shipTo: z.union([
        z.object({ kind: z.literal('address'), street: z.string(), city: z.string() }),
        z.object({ kind: z.literal('pickup'), storeId: z.string() }),
      ]),
      placedAt: z.pipe(z.iso.datetime(), z.transform((s) => new Date(s))),
    }),
    queue: 'orders',
  },
});
