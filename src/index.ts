/**
 * jobcraft: type-safe background jobs on Redis.
 *
 * Declare jobs once with {@link defineJobs}, enqueue them with {@link createClient}, run them with
 * {@link createWorker}. Payloads are validated by their zod schema at enqueue and again at dequeue.
 * @packageDocumentation
 */
export {
  defineJobs,
  jobNamed,
  isZodSchema,
  JOB_DEFAULTS,
  JOB_NAME_PATTERN,
  QUEUE_NAME_PATTERN,
  PRIORITY_RANGE,
  ATTEMPTS_RANGE,
  type BackoffOptions,
  type JobDefinition,
  type JobDefinitions,
  type JobName,
  type JobOptions,
  type JobSet,
  type JobsInQueue,
  type PayloadInput,
  type PayloadOutput,
  type QueueName,
  type QueueOfJob,
  type RateLimit,
  type ResolvedJob,
  type UniqueOptions,
  type HandlerReturn,
  type JobsWithResult,
  type ResultInput,
  type ResultOutput,
  type ResultSchemaOf,
} from './define.js';
export {
  createClient,
  type ClientOptions,
  type DeadLetters,
  type EnqueueManyOptions,
  type EnqueueOptions,
  type EnqueueResult,
  type EnqueueResultFor,
  type JobHandle,
  type ResultWaitOptions,
  type JobClient,
  type JobInfo,
  type JobState,
} from './client.js';
export { type ChainBuilder, type ChainableAfter, type ChainInfo, type ChainOf, type ChainStep, type EnqueuedChain } from './chain-client.js';
export { MAX_CHAIN_STEPS } from './chain.js';
export { type ChildResults, type EnqueuedFanIn, type FanInField, type FanInInfo, type FanInOptions } from './fan-in-client.js';
export { DEFAULT_MAX_CHILDREN, MAX_CHILDREN, type ChildFailurePolicy } from './fan-in.js';
export {
  createWorker,
  type Handler,
  type HandlersFor,
  type JobContext,
  type Middleware,
  type MiddlewareContext,
  type Worker,
  type WorkerOptions,
} from './worker/index.js';
export type { JobRef, WorkerEvents } from './events.js';
export { QueueDeadLetters, type DeadLetter, type DeadReason } from './dead-letters.js';
export {
  EnqueueUnconfirmedError,
  JobDefinitionError,
  JobValidationError,
  LeaseExpiredError,
  PermanentError,
  InvalidArgumentError,
  RedisOutOfMemoryError,
  RedisConfigurationError,
  RedisUnavailableError,
  ShutdownError,
  SnoozeSignal,
  TimeoutError,
  InvalidResultError,
  ResultWaitError,
  JobDeadError,
  ChainBrokenError,
  JobCancelledError,
  JobNotFoundError,
  ResultExpiredError,
  ResultTimeoutError,
  ResultWaitAbortedError,
  ResultUnreadableError,
  formatPath,
  type PayloadIssue,
  type StoredError,
} from './errors.js';
export { parseDuration, type Duration, type DurationUnit } from './durations.js';
export { retryDelay } from './backoff.js';
export { consoleLogger, silentLogger, type Logger } from './logger.js';
export { DEFAULT_PREFIX, queueKeys, type QueueKeys } from './keys.js';
export { DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_WORKER_MAX_PAYLOAD_BYTES } from './payload.js';
export { RESULT_DEFAULTS } from './job-options.js';
export { FIRST_POLL_MS, MAX_POLL_MS } from './result-wait.js';
export type { ClusterConfig, RedisConfig } from './redis.js';
export { VARIABLE_KEY_COMMANDS } from './scripts.js';
export {
  createMetrics,
  DURATION_BUCKETS,
  WAIT_BUCKETS,
  type Metrics,
  type MetricsOptions,
  type MetricsRegistry,
  type MetricsResponse,
  type QueueGaugeOptions,
  type QueueGaugeStats,
  type QueueStatsSource,
} from './metrics.js';
export { MissingPeerDependencyError, PayloadVersionError } from './errors.js';
export { nextFiring } from './worker/cron.js';
export { createInspector } from './inspect.js';
export {
  HISTORY_BUCKETS_MS,
  LIST_STATES,
  WORKER_RUNNING_LISTED,
  type DurationSummary,
  type History,
  type HistoryCounts,
  type HistoryOptions,
  type HistoryPoint,
  type HistoryResolution,
  type Inspector,
  type InspectorOptions,
  type JobDetails,
  type JobPage,
  type JobTimeline,
  type ListedJob,
  type ListOptions,
  type ListState,
  type QueueEntry,
  type QueueStats,
  type RunningJob,
  type WorkerInfo,
} from './inspect-types.js';
export { createAdmin } from './admin.js';
export {
  ACTION_STATES,
  ADMIN_ACTIONS,
  BULK_SAMPLE_SIZE,
  DEFAULT_BULK_PAGE_SIZE,
  MAX_BULK_PAGE_SIZE,
  type ActionCounts,
  type ActOptions,
  type ActOutcome,
  type ActResult,
  type ActResultKind,
  type Admin,
  type AdminAction,
  type AdminOptions,
  type BulkOptions,
  type BulkOutcome,
  type BulkProgress,
  type BulkQueueOutcome,
  type CronEntry,
  type DeadAction,
  type JobAction,
  type LiveState,
  type PauseOutcome,
  type PurgeOutcome,
  type SkipReason,
  type TriggerOutcome,
} from './admin-types.js';
export {
  DEFAULT_MIGRATE_PAGE_SIZE,
  MAX_MIGRATE_PAGE_SIZE,
  MIGRATE_FAILURES_KEPT,
  MIGRATE_VERSIONS_KEPT,
  type MigrateFailure,
  type MigrateFailureReason,
  type MigrateOptions,
  type MigrateOutcome,
  type MigrateProgress,
  type MigrateSource,
  type MigrateVersionCount,
} from './admin-migrate.js';
export { checkStoredJobs, verdictOfStoredJob, type StoredJobVerdict } from './live-check.js';
export { parseStoredPayload, upcastStoredPayload, type StoredPayloadResult, type VersionedPayloadJob } from './stored-payload.js';
export { payloadVersion, type AnyPayloadVersion, type PayloadVersion, type VersionSchema, type EmitSchema } from './versions.js';
export {
  DEFAULT_LIVE_CHECK_PAGE_SIZE,
  LIVE_CHECK_OTHER_NAMES,
  LIVE_CHECK_PATHS,
  LIVE_CHECK_SAMPLES,
  LIVE_CHECK_VERSIONS,
  MAX_LIVE_CHECK_PAGE_SIZE,
  type LiveCheckJobType,
  type LiveCheckOptions,
  type LiveCheckPath,
  type LiveCheckProgress,
  type LiveCheckQueue,
  type LiveCheckReason,
  type LiveCheckReport,
  type LiveCheckSample,
  type LiveCheckState,
  type LiveCheckVersion,
} from './live-check-types.js';
