/**
 * The example application's jobs, declared once. The demo, the examples and the tests use them, and
 * `jobcraft codegen` turns them into typed enqueue functions and handler signatures in generated/.
 */
import * as z from 'zod';
import { defineJobs } from './src/schema.js';

export const jobs = defineJobs({
  sendWelcomeEmail: {
    description: 'Sends the welcome email to a user who just signed up.',
    payload: z.object({
      userId: z.string().min(1).describe('Id of the new user'),
      email: z.email().describe('Where to send the email'),
      locale: z.enum(['en', 'de']).optional().describe('Language of the email; the user default when absent'),
    }),
    queue: 'email',
    attempts: 3,
    timeout: '30s',
  },

  deliverWebhook: {
    description: 'POSTs an event to a customer endpoint, retrying with backoff while the endpoint fails.',
    payload: z.object({
      url: z.url().describe('The customer endpoint'),
      event: z.string().min(1).describe('Event name, e.g. "invoice.paid"'),
      body: z.record(z.string(), z.unknown()).describe('JSON body to deliver'),
    }),
    queue: 'webhooks',
    attempts: 6,
    backoff: { type: 'exponential', delay: '500ms', maxDelay: '10m' },
    timeout: '10s',
  },

  resizeImage: {
    description: 'Renders a stored image at the requested widths.',
    payload: z.object({
      imageId: z.string().min(1),
      widths: z.array(z.number().int().positive().max(8_000)).min(1),
      format: z.enum(['jpeg', 'png', 'webp']).default('webp'),
      // Enqueue takes "10%" or 10; the handler always receives a number.
      quality: z
        .union([z.number(), z.string().regex(/^\d+%?$/)])
        .transform((q) => (typeof q === 'number' ? q : Number.parseInt(q, 10)))
        .default(80),
    }),
    queue: 'images',
    timeout: '2m',
    priority: 1,
  },

  buildDailyReport: {
    description: 'Builds the daily activity report for one day; runs every night at 03:00 UTC for the day before.',
    payload: z.object({
      day: z.iso.date().optional().describe('The day to report on, YYYY-MM-DD; the day before the run when absent'),
    }),
    queue: 'reports',
    attempts: 2,
    backoff: { type: 'fixed', delay: '300ms' },
    // Each firing enqueues the payload {} (so `day` is absent) exactly once, however many workers run.
    cron: '0 3 * * *',
  },
});

/** The type of the example job set. */
export type AppJobs = typeof jobs;
