import * as z from 'zod';
import { defineJobs } from '../../../src/index.js';

export const jobs = defineJobs({
  sendEmail: {
    payload: z.object({ to: z.email() }),
    queue: process.env.EMAIL_QUEUE ?? 'email',
  },
});
