import * as z from 'zod';
import { defineJobs } from '../../../src/index.js';

export const jobs = defineJobs({
  ping: { payload: z.object({ at: z.number() }) as any },
});
