/**
 * `jobcraft lock [--schema]` and `jobcraft check [--schema] [--against] [--mode] [--json]`, registered on the CLI
 * program by cli.ts: the job contracts across deploys (docs/contracts.md). The generator loads only when they run.
 * `jobcraft check --live` (check-live.ts) reads the jobs stored in Redis instead, and loads no generator.
 */
import { Option, type Command } from 'commander';
import type { CheckCommandOptions } from './check.js';
import type { LiveCheckCommandOptions } from './check-live.js';
import type { LockCommandOptions } from './lock.js';

/** Adds the `lock` and `check` commands to the program. */
export function registerContractCommands(program: Command): void {
  program
    .command('lock')
    .description('write jobs.lock.json beside the schema file: each job\'s queue and the JSON Schemas of its payload (commit it)')
    .option('--schema <file>', 'the schema file declaring the jobs', 'jobs.schema.ts')
    .action(async (options: LockCommandOptions) => {
      const { runLock } = await import('./lock.js');
      process.exitCode = await runLock(options);
    });
  program
    .command('check')
    .description('compare the schemas with the locked contracts, both directions; exit 2 on a breaking change (--live: parse the jobs stored in Redis now; exit 2 if any would fail)')
    .option('--schema <file>', 'the schema file declaring the jobs', 'jobs.schema.ts')
    .option('--against <ref-or-file>', 'a lockfile, or a git ref whose jobs.lock.json to compare with (default: the jobs.lock.json beside the schema file)')
    .addOption(new Option('--mode <mode>', 'which directions fail the check: backward (old producers → new workers), forward (new producers → old workers) or full').choices(['backward', 'forward', 'full']).default('full'))
    .option('--json', 'print one JSON document: { against, mode, breaking, findings } (with --live: the live report)')
    .option('--live', 'instead: parse every job stored in Redis now (waiting, delayed, retrying, dead) with the schemas, as a worker would; exit 2 if any would fail')
    .option('--redis <url>', 'with --live: Redis URL (default: $JOBCRAFT_REDIS_URL, $REDIS_URL, redis://127.0.0.1:6379)')
    .option('--prefix <prefix>', 'with --live: key prefix (default: $JOBCRAFT_PREFIX, "jobcraft")')
    .option('--queue <queue...>', 'with --live: only these queues (default: the job set\'s and every registered queue)')
    .option('--no-dead', 'with --live: do not read the dead letters')
    .option('--page-size <n>', 'with --live: entries per HSCAN page (default 200)')
    .option('--rate <n>', 'with --live: read at most n jobs per second (default: no limit)')
    .option('--max-payload-bytes <n>', 'with --live: the workers\' maxPayloadBytes (default 16 MiB, the worker\'s default)')
    .action(async (options: CheckCommandOptions & LiveCheckCommandOptions & { readonly live?: boolean }, command: Command) => {
      const { liveOptionsProblem, runLiveCheck } = await import('./check-live.js');
      const problem = liveOptionsProblem(options, command.getOptionValueSource('mode') === 'cli');
      if (problem !== undefined) {
        console.error(`error: ${problem}`);
        process.exitCode = 1;
        return;
      }
      if (options.live === true) {
        process.exitCode = await runLiveCheck(options);
        return;
      }
      const { runCheck } = await import('./check.js');
      process.exitCode = await runCheck(options);
    });
}
