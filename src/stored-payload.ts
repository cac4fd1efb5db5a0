/**
 * The one step that turns a stored job's payload into what its handler receives: shared by the worker at dequeue
 * (worker/decode.ts) and by the live check of stored jobs (live-check.ts), so that the check's verdict is the
 * worker's. Versioned payloads extend this function (and only this one): read the version the envelope records,
 * parse with that version's schema, migrate up to the current version, then validate with the current schema.
 */
import { parsePayload, type Envelope, type PayloadJob } from './payload.js';

/**
 * Parses the payload of a stored job (`envelope`, already decoded) with its job's current schema, exactly as a worker
 * does before the handler runs. Returns zod's result; throws what the schema throws (a transform or refinement that
 * throws, an asynchronous schema: `JobDefinitionError`).
 */
export function parseStoredPayload(job: PayloadJob, envelope: Envelope): ReturnType<typeof parsePayload> {
  return parsePayload(job, envelope.p);
}
