import { defineJobs } from '../../../src/index.js';

export const jobs = defineJobs({
  sendEmail: {
    payload: { to: 'string' },
  },
});
