import * as z from 'zod';
import { defineJobs } from '../../../../src/index.js';

export const jobs = defineJobs({
  ping: { payload: z.object({ at: z.number(), from: z.string(), ping: { payload: z.object({}) }, }) }) }) },
});
