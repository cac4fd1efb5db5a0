/**
 * A service that runs the jobs. It generates its own typed worker from the contracts' schema (`npm run codegen`
 * here, with `--schema-import @acme/contracts`), so its generated files import the job set by package name: the
 * built code finds it under node, where a relative path into the contracts' sources would not exist.
 */
import { createWorker } from './generated/index.js';

const worker = createWorker(
  {
    sendInvoice: async ({ invoiceId, amountCents, currency }) => {
      console.log(`handled sendInvoice ${invoiceId} ${amountCents} ${currency}`);
    },
    syncInventory: async ({ skus, full }) => {
      console.log(`handled syncInventory ${skus.join(',')} full=${String(full)}`);
    },
  },
  { handleSignals: true, logger: false },
);
console.log(`worker started (queues ${worker.queues.join(', ')})`);
