import * as z from 'zod';
import { defineJobs } from '../../../src/index.js';

export const jobs = defineJobs({
  sendEmail: { payload: z.object({ to: z.email() }) },
  'resize image': { payload: z.object({ id: z.string() }) },
});
