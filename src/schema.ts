/**
 * The part of jobcraft a schema file needs: `defineJobs` and the types of job definitions, without the Redis
 * client. Import from `jobcraft/schema` in `jobs.schema.ts` so the code generator and editors type-check it fast.
 * The code generator (`@jobcraft/cli`) takes the cron rule it checks at build time from here (when a job has a
 * schedule), and the job name rule and the job description from `jobcraft/rules` (rules.ts), re-exported here.
 * @packageDocumentation
 */
export {
  checkCron,
  defineJobs,
  JOB_DEFAULTS,
  JOB_NAME_PATTERN,
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
export { JOB_OPTION_KEYS, jobOptionsSchema, NESTED_OPTION_KEYS, type JobOptionKey } from './job-options.js';
export { describeResolvedJob, JOB_DESCRIPTION, type DescribedField, type JobDescription, type JsonValue } from './rules.js';
export { JobDefinitionError } from './errors.js';
export type { Duration } from './durations.js';
export { payloadVersion, type AnyPayloadVersion, type EmitSchema, type PayloadVersion, type VersionSchema } from './versions.js';
