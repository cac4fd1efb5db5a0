/**
 * generated/config.ts and generated/client.ts: `configure()`, the default client, `createJobsClient()` and one typed
 * `enqueue…` function per job.
 */
import { description, header, importJobSet, literal, optionSummary, tsdoc, type EmitContext, type EmitJob } from './emit-common.js';

export function emitConfig(ctx: EmitContext): string {
  return `${header(ctx, 'Connection settings of the enqueue functions and createWorker')}import type { ClientOptions } from '${ctx.runtimeSpecifier}';

let configured: ClientOptions | undefined;
let version = 0;

/**
 * Sets where the generated enqueue functions and \`createWorker\` connect when not told otherwise: \`redis\` (a URL,
 * ioredis options, an ioredis instance or a cluster configuration) and \`prefix\`, plus any other client option.
 *
 * Without it they use the \`REDIS_URL\` environment variable (else redis://127.0.0.1:6379) and \`JOBCRAFT_PREFIX\`
 * (else "jobcraft"). Calling it after the first enqueue closes the default client; the next enqueue opens a new one
 * with these settings. Workers already started keep their connection.
 */
export function configure(options: ClientOptions): void {
  configured = { ...options };
  version += 1;
}

/** The settings in force (configure()'s, else the environment's), and a number that changes on every configure(). */
export function connectionSettings(): { readonly options: ClientOptions; readonly version: number } {
  // Bracket access and no \`prefix: undefined\`: compiles under noPropertyAccessFromIndexSignature and
  // exactOptionalPropertyTypes alike.
  const prefix = configured?.prefix ?? (process.env['JOBCRAFT_PREFIX'] || undefined);
  return { options: prefix === undefined ? { ...configured } : { ...configured, prefix }, version };
}
`;
}

function enqueueDoc(job: EmitJob, indent: string, viaDefault: boolean): string {
  const { name, ids } = job.declared;
  const text = description(job);
  return tsdoc(
    [
      text,
      text === undefined ? undefined : '',
      `Enqueues job \`${name}\` (${optionSummary(job)})${viaDefault ? ' through the default client (see `configure`)' : ''}.`,
      'The payload is checked against the schema first: an invalid one throws `JobValidationError` and nothing is written.',
      '',
      `@param payload - the job's input, see {@link ${ids.input}}`,
      '@param options - `delay`, `runAt`, `priority`, `attempts`, `jobId` (an idempotency key)',
      '@returns the job\'s id, and `duplicate: true` when a job with the same `jobId` already existed',
    ],
    indent,
  );
}

/** What `enqueue…` of `job` returns: with its result handle for a job that declares a result. */
function enqueueReturn(job: EmitJob): string {
  return job.declared.result === undefined ? 'Promise<EnqueueResult>' : `Promise<EnqueueResult & JobHandle<${job.declared.ids.result}>>`;
}

function andWaitDoc(job: EmitJob, indent: string, viaDefault: boolean): string {
  const { name, ids } = job.declared;
  return tsdoc(
    [
      `Enqueues job \`${name}\`${viaDefault ? ' through the default client (see `configure`)' : ''}, then waits for its result (docs/results.md).`,
      '',
      `@param payload - the job's input, see {@link ${ids.input}}`,
      '@param options - the enqueue options, and the wait\'s `timeout` and `signal` (a timeout does not cancel the job)',
      `@returns the result, see {@link ${ids.result}}; rejects with a \`ResultWaitError\` (dead, cancelled, not found, expired, timed out, aborted)`,
    ],
    indent,
  );
}

/**
 * `loosened`: the jobs whose enqueue input is looser than the schema's (a `.catchall()` object, see
 * emit-payloads.ts); their payload is handed on to the runtime's `enqueue`, which validates it, as the schema's type.
 */
export function emitClient(ctx: EmitContext, loosened: ReadonlySet<string> = new Set()): string {
  const jobs = ctx.jobs;
  const anyLoosened = jobs.some((j) => loosened.has(j.declared.name));
  let out = header(ctx, 'Typed enqueue functions');
  const withResult = jobs.filter((j) => j.declared.result !== undefined);
  const resultTypes = withResult.length > 0 ? ', type JobHandle, type ResultWaitOptions' : '';
  out += `import { createClient, type ClientOptions, type EnqueueOptions, type EnqueueResult, type JobClient${anyLoosened ? ', type PayloadInput' : ''}${resultTypes} } from '${ctx.runtimeSpecifier}';\n`;
  out += importJobSet(ctx, false);
  out += `import { connectionSettings } from './config.js';\n`;
  out += `import type {\n${jobs.map((j) => `  ${j.declared.ids.input},\n${j.declared.result === undefined ? '' : `  ${j.declared.ids.result},\n`}`).join('')}} from './payloads.js';\n`;

  out += `
/** A client of the jobs of ${ctx.schemaPath}: the runtime's job client plus one typed \`enqueue…\` method per job. */
export interface JobsClient extends JobClient<typeof jobs> {
`;
  out += jobs
    .map(
      (j) =>
        `${enqueueDoc(j, '  ', false)}  ${j.declared.ids.enqueue}(payload: ${j.declared.ids.input}, options?: EnqueueOptions): ${enqueueReturn(j)};\n` +
        (j.declared.result === undefined
          ? ''
          : `\n${andWaitDoc(j, '  ', false)}  ${j.declared.ids.andWait}(payload: ${j.declared.ids.input}, options?: EnqueueOptions & ResultWaitOptions): Promise<${j.declared.ids.result}>;\n`),
    )
    .join('\n');
  out += `}

/**
 * Creates a client for callers who manage connections themselves (a connection per tenant, a shared ioredis
 * instance, tests). Close it with \`client.close()\`. The enqueue functions below use a default client instead.
 */
export function createJobsClient(options: ClientOptions = {}): JobsClient {
  const client = createClient(jobs, options);
  const methods = {
${jobs
  .map(
    (j) =>
      `    ${j.declared.ids.enqueue}: (payload: ${j.declared.ids.input}, options?: EnqueueOptions) =>\n      client.enqueue(${literal(j.declared.name)}, ${
        loosened.has(j.declared.name)
          ? `payload as PayloadInput<typeof jobs, ${literal(j.declared.name)}>` // extra keys: checked by the schema in enqueue
          : 'payload'
      }, options)${
        // The written-out result type is zod's output (the proof in payloads.ts); the cast only spares
        // exactOptionalPropertyTypes the difference between \`a?: T\` and \`a?: T | undefined\`.
        j.declared.result === undefined ? '' : ` as ${enqueueReturn(j)}`
      },\n${
        j.declared.result === undefined
          ? ''
          : `    ${j.declared.ids.andWait}: async (payload: ${j.declared.ids.input}, options: EnqueueOptions & ResultWaitOptions = {}): Promise<${j.declared.ids.result}> =>\n      (await client.enqueue(${literal(j.declared.name)}, payload, options)).result(options) as Promise<${j.declared.ids.result}>,\n`
      }`,
  )
  .join('')}  };
  return Object.assign(Object.create(client) as JobClient<typeof jobs>, methods);
}

let current: { readonly client: JobsClient; readonly version: number } | undefined;

/**
 * The client the enqueue functions use, opened on first use with the settings of \`configure\` (else \`REDIS_URL\`
 * and \`JOBCRAFT_PREFIX\`). Use it for \`getJob\` and the dead letters.
 */
export function defaultJobsClient(): JobsClient {
  const { options, version } = connectionSettings();
  if (current === undefined || current.version !== version) {
    // configure() was called since: retire the old connection (pending commands still complete).
    void current?.client.close().catch(() => {});
    current = { client: createJobsClient(options), version };
  }
  return current.client;
}

/** Closes the default client, if one is open (before the process exits, say). The next enqueue opens a new one. */
export async function closeDefaultJobsClient(): Promise<void> {
  const open = current;
  current = undefined;
  await open?.client.close();
}
`;
  for (const job of jobs) {
    const { ids } = job.declared;
    out += `\n${enqueueDoc(job, '', true)}export function ${ids.enqueue}(payload: ${ids.input}, options?: EnqueueOptions): ${enqueueReturn(job)} {\n  return defaultJobsClient().${ids.enqueue}(payload, options);\n}\n`;
    if (job.declared.result !== undefined) {
      out += `\n${andWaitDoc(job, '', true)}export function ${ids.andWait}(payload: ${ids.input}, options?: EnqueueOptions & ResultWaitOptions): Promise<${ids.result}> {\n  return defaultJobsClient().${ids.andWait}(payload, options);\n}\n`;
    }
  }
  return out;
}
