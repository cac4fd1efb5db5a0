/**
 * Typed results (docs/results.md), in one process: a worker whose handler returns a result, and a producer that
 * waits for it — and for the outcomes that are not a result (a dead job, a timeout that leaves the job running).
 *
 *   npx tsx examples/results.ts      (REDIS_URL, default redis://127.0.0.1:6379; prefix jobcraft-results-example)
 */
import * as z from 'zod';
import { createClient, createWorker, defineJobs, JobDeadError, PermanentError, ResultTimeoutError } from '../src/index.js';

const jobs = defineJobs({
  renderInvoice: {
    payload: z.object({ invoiceId: z.string(), slow: z.boolean().default(false) }),
    // The handler returns { url, pages? }; a wait gets { url, pages } (the default filled in).
    result: z.object({ url: z.url(), pages: z.number().int().default(1) }),
    attempts: 2,
    resultRetention: '1h',
  },
});

const prefix = 'jobcraft-results-example';
const worker = createWorker(
  jobs,
  {
    renderInvoice: async ({ invoiceId, slow }) => {
      if (invoiceId === 'missing') throw new PermanentError(`invoice ${invoiceId} does not exist`);
      if (slow) await new Promise((resolve) => setTimeout(resolve, 500));
      return { url: `https://files.example.com/invoices/${invoiceId}.pdf` };
    },
  },
  { prefix, logger: false },
);
const client = createClient(jobs, { prefix });

const handle = await client.enqueue('renderInvoice', { invoiceId: 'inv-1' });
const { url, pages } = await handle.result({ timeout: '10s' });
console.log(`${handle.id}: ${url} (${pages} page)`);

// Another service needs only the id.
console.log(`rebuilt from the id: ${(await client.job('renderInvoice', handle.id).result()).url}`);

try {
  await (await client.enqueue('renderInvoice', { invoiceId: 'missing' })).result();
} catch (err) {
  if (err instanceof JobDeadError) console.log(`dead (${err.reason}): ${err.lastError?.message}`);
  else throw err;
}

const slow = await client.enqueue('renderInvoice', { invoiceId: 'inv-2', slow: true });
try {
  await slow.result({ timeout: 50 });
} catch (err) {
  if (!(err instanceof ResultTimeoutError)) throw err;
  console.log(`timed out after ${err.timeoutMs} ms; the job goes on: ${(await slow.result()).url}`);
}

await client.close();
await worker.close();
