/**
 * The operations commands, registered on the program by cli.ts: `jobcraft job`, `dead …`, `jobs …`, `pause`,
 * `resume`, `cron …`, `enqueue`. Registering loads only commander: what a command does (ops-actions.ts, the client,
 * the table and progress toolkit) is imported when it runs, so `jobcraft codegen` starts as fast as before.
 * docs/operations.md describes every command, option and exit code.
 */
import type { Command } from 'commander';
import type { BulkOptions, EnqueueCommandOptions, JobsVerb } from './ops-actions.js';
import type { CommonOptions, Context } from './ops-context.js';

/** Exit code of a usage error (EXIT.usage in ops-output.ts, repeated here so registering loads nothing else). */
const USAGE = 2;

/** Adds the connection and job-set options to a command, and makes its usage errors exit 2. */
function withCommonOptions(command: Command, declarations = true): Command {
  command
    .option('--redis <url>', 'Redis URL (default: $JOBCRAFT_REDIS_URL, $REDIS_URL, redis://127.0.0.1:6379)')
    .option('--prefix <prefix>', 'key prefix (default: $JOBCRAFT_PREFIX, "jobcraft")');
  if (declarations) {
    command
      .option('--schema <file>', 'the job declarations from a schema file, run with tsx (default for enqueue: jobs.schema.ts)')
      .option('--manifest <file>', 'the job declarations from a generated manifest (default: generated/jobs.manifest.json)');
  }
  command.option('--json', 'print the result as JSON, and nothing else on stdout');
  // Usage errors exit 2 (commander's own default is 1); --help and --version still exit 0.
  command.exitOverride((err) => {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') process.exit(0);
    process.exit(USAGE);
  });
  return command;
}

/**
 * Makes a command group (`dead`, `cron`) exit 2 on an unknown or missing subcommand, as every usage error does
 * (commander's own code is 1); its --help still exits 0.
 */
function withUsageExits(group: Command): Command {
  return group.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : USAGE));
}

type Actions = typeof import('./ops-actions.js');
type Reads = typeof import('./ops-inspect.js');
type Inspector = Parameters<Parameters<Reads['withInspector']>[1]>[0];
type Printer = Parameters<Parameters<Reads['withInspector']>[1]>[1];

/** A read command on the runtime's Inspector: no job declarations needed. */
function read<A extends unknown[], O extends CommonOptions>(body: (reads: Reads, inspector: Inspector, out: Printer, ...args: [...A, O]) => Promise<number>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const options = args[args.length - 2] as O;
    const rest = args.slice(0, -2) as A;
    const reads = await import('./ops-inspect.js');
    await reads.withInspector(options, (inspector, out) => body(reads, inspector, out, ...rest, options));
  };
}

/** A command action run inside a context (the job set loaded, a client open, errors turned into exit codes). */
function run<A extends unknown[], O extends CommonOptions>(
  prefer: 'schema' | 'manifest',
  body: (actions: Actions, ctx: Context, ...args: [...A, O]) => Promise<number>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    // commander passes the arguments, then the options, then the command.
    const options = args[args.length - 2] as O;
    const rest = args.slice(0, -2) as A;
    const [actions, { withContext }] = await Promise.all([import('./ops-actions.js'), import('./ops-context.js')]);
    await withContext(options, prefer, (ctx) => body(actions, ctx, ...rest, options));
  };
}

function bulkOptions(command: Command, states?: string): Command {
  command
    .option('--queue <queue>', 'only this queue (default: every queue of the job set)')
    .option('--all', 'every job that the other filters let through')
    .option('--job <name>', 'only jobs of this job type')
    .option('--since <time>', 'only jobs since a duration ago (15m, 2h, 7d) or an ISO time: dead letters by time of death, live jobs by enqueue time')
    .option('--dry-run', 'change nothing; say how many jobs it would act on')
    .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--page-size <n>', 'jobs per page (each page is one scan step and one idempotent call)', '200')
    .option('--rate <n>', 'act on at most n jobs per second (spares Redis and the workers); default no limit');
  if (states !== undefined) command.option('--state <state>', states);
  return withCommonOptions(command);
}

const JOBS_VERBS: Record<JobsVerb, { readonly description: string; readonly states?: string }> = {
  retry: { description: 'run retrying jobs now instead of after their backoff' },
  delete: { description: 'remove jobs that are not running, or dead letters with --state dead', states: 'only jobs in this state: waiting, delayed, retrying or dead' },
  promote: { description: 'run delayed and retrying jobs now', states: 'only jobs in this state: delayed or retrying' },
  cancel: { description: 'remove jobs that are not running (waiting, delayed, retrying)', states: 'only jobs in this state: waiting, delayed or retrying' },
};

/** Adds the operations commands to the program. */
export function registerOpsCommands(program: Command): void {
  // Each command parses its own options: without this the program would hand `jobs` the options written after
  // `jobs promote`, and `jobs` (which has a --job and --state of its own, for its listing) would keep them.
  program.enablePositionalOptions();
  withCommonOptions(
    program
      .command('stats')
      .description('every queue: waiting, delayed, active, retrying, dead, paused, latency, throughput in the last minute and hour')
      .option('--watch', 'refresh in place until Ctrl-C (--json: one JSON line per refresh)')
      .option('--interval <duration>', 'refresh period with --watch', '2s'),
    false,
  ).action(read<[], CommonOptions & { watch?: boolean; interval?: string }>((r, inspector, out, o) => r.stats(inspector, out, o)));
  withCommonOptions(program.command('queues').description('every queue registered under the prefix, with its state'), false).action(
    read<[], CommonOptions>((r, inspector, out) => r.queues(inspector, out)),
  );
  withCommonOptions(program.command('workers').description('every live worker process: host, pid, version, queues, jobs running, last heartbeat'), false).action(
    read<[], CommonOptions>((r, inspector, out) => r.workers(inspector, out)),
  );

  withCommonOptions(program.command('job').description('one job: state, payload, attempts, each kept error (the last 5) with its stack, timeline').argument('<id>', 'the job id')).action(
    run<[string], CommonOptions>('manifest', (a, ctx, id) => a.showJob(ctx, id)),
  );

  const dead = withUsageExits(program.command('dead').description('dead letters: ls, show, retry, delete, purge'));
  withCommonOptions(
    dead
      .command('ls')
      .description('dead letters, newest first')
      .argument('[queue]', 'only this queue (default: every queue)')
      .option('--job <name>', 'only dead letters of this job type, or stored under this old name of a renamed job (filters the page)')
      .option('--limit <n>', 'how many of each queue (1-1000)', '20')
      .option('--offset <n>', 'skip this many of the newest of each queue', '0'),
  ).action(
    run<[string | undefined], CommonOptions & { limit: string; offset: string; job?: string }>('manifest', (a, ctx, queue, o) =>
      a.deadList(ctx, queue, { limit: a.integer(o.limit, '--limit') ?? 20, offset: a.integer(o.offset, '--offset') ?? 0, job: o.job }),
    ),
  );
  withCommonOptions(dead.command('show').description('one dead letter: payload, reason, error with its stack, issues').argument('<id>', 'the job id')).action(
    run<[string], CommonOptions>('manifest', (a, ctx, id) => a.deadShow(ctx, id)),
  );
  for (const verb of ['retry', 'delete'] as const) {
    bulkOptions(
      dead
        .command(verb)
        .description(verb === 'retry' ? 'put dead letters back in their queue with fresh attempts' : 'delete dead letters')
        .argument('[ids...]', 'dead letters by id (or select them with --all, --job, --since)'),
    ).action(run<[string[]], BulkOptions>('manifest', (a, ctx, ids, o) => a.deadAction(ctx, verb, ids, o)));
  }
  withCommonOptions(
    dead
      .command('purge')
      .description('delete every dead letter of a queue at once')
      .argument('<queue>')
      .option('--dry-run', 'change nothing; say how many it would delete')
      .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)'),
  ).action(run<[string], BulkOptions>('manifest', (a, ctx, queue, o) => a.deadPurge(ctx, queue, o)));

  // `jobs <queue>` lists a page of a queue's jobs; `jobs retry|delete|promote|cancel` act on many.
  const jobs = withCommonOptions(
    program
      .command('jobs')
      .description('a page of a queue\'s jobs (paged, never the whole queue); or act on many jobs: retry, delete, promote, cancel')
      .argument('<queue>', 'the queue to list')
      .option('--state <state>', 'waiting, delayed, retrying, active, dead or completed', 'waiting')
      .option('--job <name>', 'only jobs of this job type (filtered within each page)')
      .option('--limit <n>', 'entries read per page (1-1000)', '50')
      .option('--cursor <cursor>', 'the next page, as the previous one printed it')
      // Options after `retry`, `delete` … are the subcommand's (its --job, --state), not the listing's.
      .enablePositionalOptions(),
    false,
  ).action(read<[string], CommonOptions & { state?: string; job?: string; limit?: string; cursor?: string }>((r, inspector, out, queue, o) => r.listJobs(inspector, out, queue, o)));
  for (const verb of ['retry', 'delete', 'promote', 'cancel'] as const) {
    bulkOptions(jobs.command(verb).description(JOBS_VERBS[verb].description).argument('[ids...]', 'jobs by id (or select them with --all, --job, --since)'), JOBS_VERBS[verb].states).action(
      run<[string[]], BulkOptions>('manifest', (a, ctx, ids, o) => a.jobsAction(ctx, verb, ids, o)),
    );
  }

  withCommonOptions(program.command('pause').description('pause a queue: workers lease none of its jobs (running ones finish)').argument('<queue>')).action(
    run<[string], CommonOptions>('manifest', (a, ctx, queue) => a.pauseResume(ctx, queue, true)),
  );
  withCommonOptions(program.command('resume').description('resume a paused queue').argument('<queue>')).action(
    run<[string], CommonOptions>('manifest', (a, ctx, queue) => a.pauseResume(ctx, queue, false)),
  );

  const cron = withUsageExits(program.command('cron').description('cron jobs: last and next firings; a firing now'));
  withCommonOptions(cron.command('ls').description('every cron job with its schedule, last firing and next firing')).action(
    run<[], CommonOptions>('manifest', (a, ctx) => a.cronList(ctx)),
  );
  withCommonOptions(cron.command('trigger').description('enqueue a cron job now with its cron payload (its schedule is unchanged)').argument('<job>')).action(
    run<[string], CommonOptions>('manifest', (a, ctx, name) => a.cronTrigger(ctx, name)),
  );

  // The migrations are functions: only the schema file has them (no --manifest).
  withCommonOptions(
    program
      .command('migrate')
      .description('rewrite a job type’s stored payloads (waiting, delayed, retrying, dead letters) to a payload version, in place, resumably')
      .argument('<job>', 'the job name (jobs stored under its aliases are included)')
      .option('--to <version>', 'the payload version to write (1 to the job’s current one)')
      .option('--schema <file>', 'the schema file whose job set (and migrations) to use', 'jobs.schema.ts')
      .option('--dry-run', 'change nothing; count the stored jobs per version and list those whose migration would fail')
      .option('--no-dead', 'leave the dead letters as they are')
      .option('--page-size <n>', 'stored jobs read per page (each page is one scan step and one script call)', '200')
      .option('--rate <n>', 'read at most n stored jobs per second; default no limit')
      .option('--max-payload-bytes <n>', 'the largest migrated payload written (bytes of JSON; default the worker’s 16 MiB)'),
    false,
  ).action(
    run<[string], import('./ops-migrate.js').MigrateCommandOptions>('schema', async (_a, ctx, name, o) => (await import('./ops-migrate.js')).migrateJob(ctx, name, o)),
  );

  withCommonOptions(
    program
      .command('enqueue')
      .description('enqueue a job, its payload validated against the job’s schema as the application’s enqueue does')
      .argument('<job>', 'the job name')
      .option('--data <json>', 'the payload as JSON')
      .option('--file <file>', 'the payload from a JSON file (- for stdin)')
      .option('--delay <duration>', 'run no earlier than this from now (30s, 5m)')
      .option('--priority <n>', 'priority -1000..1000 (default: the job type’s)')
      .option('--attempts <n>', 'total attempts (default: the job type’s)')
      .option('--job-id <id>', 'idempotency key used as the job id'),
  ).action(run<[string], EnqueueCommandOptions>('schema', (a, ctx, name, o) => a.enqueueJob(ctx, name, o)));
}
