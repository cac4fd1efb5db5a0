/**
 * generated/worker.ts: one handler type per job, the `Handlers` interface, the queues and their jobs, and a
 * `createWorker(handlers, options)` that does not compile when a handler is missing, extra or mistyped.
 */
import { description, header, importJobSet, literal, optionSummary, tsdoc, type EmitContext } from './emit-common.js';
import { propertyKey } from './names.js';

export function emitWorker(ctx: EmitContext): string {
  const jobs = ctx.jobs;
  const byQueue = new Map<string, string[]>();
  for (const job of jobs) byQueue.set(job.resolved.queue, [...(byQueue.get(job.resolved.queue) ?? []), job.declared.name]);
  const queues = [...byQueue.keys()].sort();

  let out = header(ctx, 'Typed handlers and worker');
  out += `import {\n  createWorker as createJobWorker,\n  type Handler,\n  type HandlersFor,\n  type JobsInQueue,\n  type QueueName as QueueNameOf,\n  type Worker,\n  type WorkerOptions,\n} from '${ctx.runtimeSpecifier}';\n`;
  out += importJobSet(ctx, false);
  out += `import { connectionSettings } from './config.js';\n`;
  out += `import type {\n${jobs.map((j) => `  ${j.declared.ids.payload},\n${j.declared.result === undefined ? '' : `  ${j.declared.ids.returns},\n`}`).join('')}} from './payloads.js';\n`;
  out += `\ntype Jobs = typeof jobs;\n`;

  for (const job of jobs) {
    const { name, ids } = job.declared;
    const text = description(job);
    out += `\n${tsdoc([
      text,
      text === undefined ? undefined : '',
      `Handles job \`${name}\` (${optionSummary(job)}).`,
      `Receives the payload in its output form ({@link ${ids.payload}}); throw to fail the attempt.`,
      job.declared.result === undefined ? undefined : `Returns the job's result ({@link ${ids.returns}}), checked and stored by the worker (docs/results.md).`,
    ])}`;
    out += `export type ${ids.handler} = Handler<${ids.payload}, ${literal(name)}${job.declared.result === undefined ? '' : `, ${ids.returns}`}>;\n`;
  }

  out += `\n/** The name of every job. */\nexport type JobName =\n${jobs.map((j) => `  | ${literal(j.declared.name)}`).join('\n')};\n`;
  out += `\n/** Every queue, and the names of the jobs it holds. */\nexport interface JobsByQueue {\n`;
  out += queues.map((q) => `  ${propertyKey(q)}: ${(byQueue.get(q) ?? []).map(literal).join(' | ')};\n`).join('');
  out += `}\n\n/** The name of every queue. */\nexport type QueueName = keyof JobsByQueue;\n`;

  out += `\n/** One handler per job: what \`createWorker\` takes. */\nexport interface Handlers {\n`;
  out += jobs
    .map((j) => {
      const text = description(j);
      const doc = tsdoc([`Job \`${j.declared.name}\` (queue '${j.resolved.queue}').${text === undefined ? '' : ` ${text}`}`], '  ');
      return `${doc}  ${propertyKey(j.declared.name)}: ${j.declared.ids.handler};\n`;
    })
    .join('');
  out += `}

/**
 * Starts a worker running \`handlers\`. It serves every queue unless \`options.queues\` names some; the handler map
 * must then hold exactly the handlers of those queues' jobs. A missing handler, a handler for a job that is not
 * served or not declared, and a handler expecting the wrong payload type do not compile.
 *
 * Connects like the enqueue functions (\`configure\`, else \`REDIS_URL\` and \`JOBCRAFT_PREFIX\`) unless
 * \`options.redis\` / \`options.prefix\` say otherwise; the worker also takes \`maxPayloadBytes\` from \`configure\`.
 *
 * @example
${example(ctx)}
 */
export function createWorker<const Q extends QueueName = QueueName>(
  handlers: Pick<Handlers, JobsByQueue[Q]>,
  options: WorkerOptions<Q> = {},
): Worker {
  const { options: connection } = connectionSettings();
  // The parameter types above already hold the handler map to the served queues; the runtime checks it again.
  const typed = handlers as unknown as HandlersFor<Jobs, JobsInQueue<Jobs, Q>>;
  const redis = options.redis ?? connection.redis;
  const prefix = options.prefix ?? connection.prefix;
  const maxPayloadBytes = options.maxPayloadBytes ?? connection.maxPayloadBytes;
  // Settings nobody gave are left out rather than set to undefined (exactOptionalPropertyTypes).
  return createJobWorker<Jobs, Q>(jobs, typed, {
    ...options,
    ...(redis === undefined ? {} : { redis }),
    ...(prefix === undefined ? {} : { prefix }),
    ...(maxPayloadBytes === undefined ? {} : { maxPayloadBytes }),
  });
}

// A compile-time proof that the names, queues and handlers above match the job set: tsc fails here when they drift.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

/** A compile-time check that the names above match the job set; not meant to be used. */
export type WorkerTypesMatchJobSet = [
  Expect<Equal<JobName, keyof Jobs['definitions']>>,
  Expect<Equal<QueueName, QueueNameOf<Jobs>>>,
${queues.map((q) => `  Expect<Equal<JobsByQueue[${literal(q)}], JobsInQueue<Jobs, ${literal(q)}>>>,\n`).join('')}  Expect<Equal<Handlers, HandlersFor<Jobs>>>,
];
`;
  return out;
}

/** A usage example for the doc comment: a worker serving only the first job's queue. */
function example(ctx: EmitContext): string {
  const first = ctx.jobs[0];
  if (first === undefined) return ' * createWorker({});';
  const queue = first.resolved.queue;
  const names = ctx.jobs.filter((j) => j.resolved.queue === queue).map((j) => j.declared.name);
  return [
    ' * const worker = createWorker(',
    ' *   {',
    ...names.map((n) => ` *     ${propertyKey(n)}: async (payload, ctx) => ctx.logger.info(\`job \${ctx.id}\`, { payload }),`),
    ' *   },',
    ` *   { queues: [${literal(queue)}], concurrency: 20 },`,
    ' * );',
  ].join('\n');
}

/**
 * What generated/index.ts re-exports from the runtime: the error classes a service catches or throws and the types a
 * handler or a producer spells out, so that a service imports only from the generated code and needs no direct
 * dependency on the runtime (pnpm's strict layout refuses an undeclared one). Names the generated files define
 * themselves (`createWorker`, `JobName`, `QueueName`) are theirs, not the runtime's generic ones.
 */
export const RUNTIME_REEXPORTS = {
  values: [
    'ChainBrokenError',
    'EnqueueUnconfirmedError',
    'InvalidArgumentError',
    'InvalidResultError',
    'JobCancelledError',
    'JobDeadError',
    'JobDefinitionError',
    'JobNotFoundError',
    'JobValidationError',
    'LeaseExpiredError',
    'MissingPeerDependencyError',
    'PayloadVersionError',
    'PermanentError',
    'RedisConfigurationError',
    'RedisOutOfMemoryError',
    'RedisUnavailableError',
    'ResultExpiredError',
    'ResultTimeoutError',
    'ResultUnreadableError',
    'ResultWaitAbortedError',
    'ResultWaitError',
    'ShutdownError',
    'SnoozeSignal',
    'TimeoutError',
    'consoleLogger',
    'silentLogger',
  ],
  types: [
    'ClientOptions',
    'DeadLetter',
    'DeadReason',
    'Duration',
    'EnqueueOptions',
    'EnqueueResult',
    'JobContext',
    'JobHandle',
    'JobInfo',
    'JobRef',
    'JobState',
    'Logger',
    'Middleware',
    'MiddlewareContext',
    'PayloadIssue',
    'ResultWaitOptions',
    'StoredError',
    'Worker',
    'WorkerEvents',
    'WorkerOptions',
  ],
} as const;

/** generated/index.ts: everything, from one import, the runtime's errors and handler types included. */
export function emitIndex(ctx: EmitContext): string {
  const names = [...RUNTIME_REEXPORTS.values, ...RUNTIME_REEXPORTS.types.map((t) => `type ${t}`)];
  return `${header(ctx, 'Everything generated')}export * from './payloads.js';
export * from './config.js';
export * from './client.js';
export * from './worker.js';

// The runtime's errors and the types handlers and producers use, so that a service imports only from here.
export {
${names.map((n) => `  ${n},\n`).join('')}} from '${ctx.runtimeSpecifier}';
`;
}
