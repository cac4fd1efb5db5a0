/**
 * The golden-file fixture: jobs whose payloads use most of what zod can express, so the emitted code for each
 * construct is pinned by test/codegen.test.ts. Its output is committed next to it, in generated/.
 */
import * as z from 'zod';
import { defineJobs, payloadVersion } from '../../../src/index.js';

const common = { attempts: 4, backoff: { type: 'fixed', delay: '2s' } } as const;
const QUEUE = 'billing';

const Address = z.object({
  street: z.string(),
  city: z.string().describe('City name'),
  zip: z.string().regex(/^\d{5}$/).optional(),
});

// Recursive: no plain type can be written out for `subcategories`, so that field (only) is written as the zod type.
const Category = z.object({
  name: z.string(),
  get subcategories() {
    return z.array(Category);
  },
});

// Versioned payloads (docs/contracts.md, "Versioned payloads"): 1 → 2 → the current one.
const NoticeV1 = z.object({ to: z.string() });
const NoticeV2 = z.object({ to: z.array(z.email()), urgent: z.boolean().default(false) });

enum Plan {
  Free = 'free',
  Pro = 'pro',
}

export const billingJobs = defineJobs({
  'billing.charge-card': {
    description: 'Charges a card. The description */ is escaped in doc comments.',
    payload: z
      .object({
        customerId: z.uuid().describe('Customer to charge'),
        amountCents: z.number().int().positive(),
        currency: z.enum(['EUR', 'USD']).default('EUR'),
        metadata: z.record(z.string(), z.string()).optional(),
        billingAddress: Address.describe('Where the invoice goes'),
      })
      .describe('A charge request'),
    queue: QUEUE,
    ...common,
    timeout: 15_000,
    priority: -5,
  },

  everyShape: {
    payload: z.object({
      text: z.string(),
      count: z.number(),
      flag: z.boolean(),
      nothing: z.null(),
      maybe: z.string().nullable(),
      optionalNumber: z.number().optional(),
      withDefault: z.number().default(3),
      trimmed: z.string().transform((s) => s.trim().length),
      coerced: z.coerce.date(),
      literal: z.literal('fixed'),
      literals: z.literal([1, 2, 3]),
      list: z.array(z.object({ sku: z.string(), qty: z.number().int() })),
      readonlyList: z.array(z.string()).readonly(),
      pair: z.tuple([z.string(), z.number()]),
      restTuple: z.tuple([z.string()], z.boolean()),
      scores: z.record(z.string(), z.number()),
      flags: z.record(z.enum(['a', 'b']), z.boolean()),
      either: z.union([z.string(), z.number()]),
      shape: z.discriminatedUnion('kind', [
        z.object({ kind: z.literal('circle'), radius: z.number() }),
        z.object({ kind: z.literal('square'), side: z.number() }),
      ]),
      nested: z.object({ deep: z.object({ deeper: z.array(z.enum(['x', 'y'])).default([]) }) }),
      'quoted-key': z.string(),
      anything: z.unknown(),
      loose: z.looseObject({ id: z.string() }),
      stringOrBool: z.union([z.string(), z.boolean()]).optional(),
      piped: z.string().pipe(z.transform((s) => s.split(','))),
    }),
  },

  scalarPayload: {
    description: 'A payload that is not an object.',
    payload: z.string().min(1).describe('Just a string'),
    queue: 'misc',
    unique: { by: (p) => String(p), ttl: '10m' },
  },

  recursiveTree: {
    payload: z.object({ root: Category }),
    queue: 'misc',
  },

  // .catchall(): known properties that do not fit the index signature (TS2411 if written plainly).
  catchallShapes: {
    payload: z
      .object({
        ts: z.string(),
        max_users: z.number().optional(),
        counts: z.object({ total: z.number() }).catchall(z.number()),
        labels: z.object({ id: z.number() }).catchall(z.string()),
      })
      .catchall(z.number()),
    queue: 'misc',
  },

  // Narrow fallbacks and schema order: only `plan` and `tree.subcategories` are written as the zod type; union
  // members keep the order of their schema's properties (zod's own type lists required ones first).
  mixedShapes: {
    payload: z.object({
      plan: z.enum(Plan),
      tree: Category.describe('A category and its subcategories'),
      event: z.union([
        z.object({ type: z.string(), at: z.number().optional().describe('When it happened'), source: z.string() }),
        z.object({ code: z.number(), reason: z.string().optional(), retry: z.boolean() }),
      ]),
      name: z.string(),
    }),
    queue: 'misc',
  },

  // A result (docs/results.md): written out as …Returns (what the handler returns) and …Result (what a wait gives).
  renderReport: {
    description: 'Renders a report and returns where it is.',
    payload: z.object({ reportId: z.string() }),
    result: z.object({
      url: z.url().describe('Where the rendered file is'),
      pages: z.number().int().default(1),
      tags: z.array(z.string()).optional(),
    }),
    resultRetention: '1h',
    queue: 'docs',
  },

  nightlyCleanup: {
    description: 'Runs every night.',
    payload: z.object({ olderThanDays: z.number().int().default(30) }),
    queue: 'misc',
    cron: '0 3 * * *',
    tz: 'Europe/Berlin',
    catchUp: 'none',
  },

  // Written out as …InputV1/…PayloadV1 and …InputV2/…PayloadV2 beside the current types.
  sendNotice: {
    payload: z.object({ to: z.array(z.email()), urgent: z.boolean(), channel: z.enum(['mail', 'sms']).default('mail') }),
    versions: [payloadVersion(NoticeV1, (p) => ({ to: [p.to] })), payloadVersion(NoticeV2, (p) => ({ to: p.to, urgent: p.urgent }))],
    queue: 'misc',
  },

  // Producers pinned to version 1 (emitVersion): enqueue takes version 1's input.
  sendPinnedNotice: {
    payload: NoticeV2,
    versions: [{ payload: NoticeV1, migrate: (p: z.output<typeof NoticeV1>) => ({ to: [p.to] }) }],
    emitVersion: 1,
    queue: 'misc',
  },
});
