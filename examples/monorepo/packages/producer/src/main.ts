/**
 * A service that enqueues: it uses the enqueue functions the contracts package generated, and imports nothing else
 * for its jobs. Connects through REDIS_URL and JOBCRAFT_PREFIX (see the generated config.ts).
 */
import { closeDefaultJobsClient, enqueueSendInvoice, enqueueSyncInventory } from '@acme/contracts';

const invoice = await enqueueSendInvoice({ invoiceId: 'inv-1001', amountCents: 4_990 });
console.log(`enqueued sendInvoice ${invoice.id}`);
const sync = await enqueueSyncInventory({ skus: ['sku-1', 'sku-2'] });
console.log(`enqueued syncInventory ${sync.id}`);
await closeDefaultJobsClient();
