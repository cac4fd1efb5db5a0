import * as z from 'zod';

export const payloads = { sendEmail: z.object({ to: z.email() }) };
