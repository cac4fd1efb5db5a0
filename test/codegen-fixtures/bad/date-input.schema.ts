import * as z from 'zod';
import { defineJobs } from '../../../src/index.js';

export const jobs = defineJobs({
  audit: {
    payload: z.object({
      timestamp: z.date(),
    }),
  },
});
