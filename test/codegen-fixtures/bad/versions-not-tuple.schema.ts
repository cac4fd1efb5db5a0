import * as z from 'zod';
import { defineJobs, payloadVersion, type AnyPayloadVersion } from '../../../src/index.js';

const v1 = z.object({ to: z.string() });
// A list whose length the compiler does not know: codegen cannot tell which version is which.
const versions: AnyPayloadVersion[] = [payloadVersion(v1, (p) => ({ to: [p.to] }))];

export const jobs = defineJobs({
  sendEmail: { payload: z.object({ to: z.array(z.string()) }), versions },
});
