/**
 * The part of jobcraft a schema file needs: `defineJobs` and the types of job definitions, without the Redis
 * client. Import from `jobcraft/schema` in `jobs.schema.ts` so the code generator and editors type-check it fast.
 * @packageDocumentation
 */
export {
  defineJobs,
  JOB_DEFAULTS,
  type BackoffOptions,
  type JobDefinition,
  type JobDefinitions,
  type JobName,
  type JobOptions,
  type JobSet,
  type PayloadInput,
  type PayloadOutput,
  type QueueName,
  type RateLimit,
  type UniqueOptions,
} from './define.js';
export { JobDefinitionError } from './errors.js';
export type { Duration } from './durations.js';
