import * as z from 'zod';
import { defineJobs } from 'jobcraft/schema';
import { label } from './helpers/labels.js';

export const jobs = defineJobs({
  tag: { payload: z.object({ label }) },
});
