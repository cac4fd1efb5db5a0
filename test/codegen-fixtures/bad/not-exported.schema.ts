import * as z from 'zod';
import { defineJobs } from '../../../src/index.js';

const jobs = defineJobs({
  sendEmail: { payload: z.object({ to: z.email() }) },
});
void jobs;
