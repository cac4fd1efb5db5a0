/**
 * Defaults computed by a function, beside constant ones: codegen must not evaluate the functions into its output
 * (the manifest would differ on every run and `codegen --check` would fail right after generating).
 */
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { defineJobs } from '../../src/schema.js';

export const jobs = defineJobs({
  record: {
    payload: z.object({
      id: z.uuid().default(() => randomUUID()).describe('Generated when left out'),
      at: z.iso.datetime().default(() => new Date().toISOString()),
      seenAt: z.coerce.date().default(() => new Date()),
      nonce: z.string().prefault(() => Math.random().toString(36)),
      label: z.string().catch(() => `label-${Date.now()}`),
      retries: z.number().int().default(3),
      tags: z.array(z.string()).default([]),
      level: z.enum(['low', 'high']).catch('low'),
      region: z.string().default(() => 'eu'),
    }),
  },
});
