import { defineJobs } from 'jobcraft/shcema';
import * as z from 'zod';

export const jobs = defineJobs({
  ping: { payload: z.object({ at: z.number() }) },
});
