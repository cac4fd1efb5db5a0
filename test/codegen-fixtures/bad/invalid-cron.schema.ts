import * as z from 'zod';
import { defineJobs } from '../../../src/index.js';

export const jobs = defineJobs({
  nightlyReport: {
    payload: z.object({ day: z.iso.date().optional() }),
    cron: '0 25 * * *',
  },
});
