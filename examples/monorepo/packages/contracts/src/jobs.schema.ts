/**
 * The jobs of every Acme service, declared once. This package owns the schema and the code generated from it
 * (src/generated, written by `npm run codegen`); services depend on this package and import from it.
 */
import * as z from 'zod';
import { defineJobs } from 'jobcraft/schema';

export const jobs = defineJobs({
  sendInvoice: {
    description: 'Emails an invoice to the customer.',
    payload: z.object({
      invoiceId: z.string().min(1),
      amountCents: z.number().int().positive(),
      currency: z.enum(['EUR', 'USD']).default('EUR'),
    }),
    queue: 'billing',
    attempts: 5,
  },
  syncInventory: {
    description: 'Pulls stock levels for some SKUs from the warehouse.',
    payload: z.object({ skus: z.array(z.string()).min(1), full: z.boolean().default(false) }),
    queue: 'inventory',
    timeout: '2m',
  },
});
