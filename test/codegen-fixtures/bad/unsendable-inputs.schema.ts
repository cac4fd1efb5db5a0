import * as z from 'zod';
import { defineJobs } from '../../../src/index.js';

class Money {
  constructor(readonly cents: number) {}
}

export const jobs = defineJobs({
  // Each field below can never be sent as JSON: codegen points at each one.
  ledger: {
    payload: z.object({
      id: z.bigint(),
      entries: z.array(z.object({ at: z.date().optional(), note: z.string() })),
      totals: z.map(z.string(), z.number()),
      tags: z.set(z.string()),
      amount: z.instanceof(Money),
      marker: z.symbol().optional(),
      byDay: z.record(z.string(), z.date()),
      nothing: z.undefined(),
      // These are fine: a string comes in, the handler gets a Date or a bigint; or a string is one of the options.
      coerced: z.coerce.date(),
      big: z.coerce.bigint(),
      either: z.union([z.date(), z.iso.datetime()]),
      maybe: z.undefined().optional(),
    }),
  },
  stamp: {
    payload: z.date(),
  },
});
