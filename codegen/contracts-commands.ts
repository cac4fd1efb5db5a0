/**
 * `jobcraft lock [--schema]` and `jobcraft check [--schema] [--against] [--mode] [--json]`, registered on the CLI
 * program by cli.ts: the job contracts across deploys (docs/contracts.md). The generator loads only when they run.
 */
import { Option, type Command } from 'commander';
import type { CheckCommandOptions } from './check.js';
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
    .description('compare the schemas with the locked contracts, both directions; exit 2 on a breaking change')
    .option('--schema <file>', 'the schema file declaring the jobs', 'jobs.schema.ts')
    .option('--against <ref-or-file>', 'a lockfile, or a git ref whose jobs.lock.json to compare with (default: the jobs.lock.json beside the schema file)')
    .addOption(new Option('--mode <mode>', 'which directions fail the check: backward (old producers → new workers), forward (new producers → old workers) or full').choices(['backward', 'forward', 'full']).default('full'))
    .option('--json', 'print one JSON document: { against, mode, breaking, findings }')
    .action(async (options: CheckCommandOptions) => {
      const { runCheck } = await import('./check.js');
      process.exitCode = await runCheck(options);
    });
}
