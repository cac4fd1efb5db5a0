/**
 * `jobcraft codegen [--schema jobs.schema.ts] [--out generated] [--schema-import <specifier>] [--check] [--watch]`, registered on the CLI program
 * by cli.ts. The generator (and the TypeScript compiler it loads) is imported only when the command runs.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { CodegenCommandOptions } from './run.js';

/** Adds the `codegen` command to the program. */
export function registerCodegenCommand(program: Command): void {
  program
    .command('codegen')
    .description('generate typed enqueue functions, handler types and a manifest from the schema file')
    .option('--schema <file>', 'the schema file declaring the jobs', 'jobs.schema.ts')
    .option('--out <folder>', 'the folder to write (replaced as a whole)', 'generated')
    .option('--schema-import <specifier>', 'import the job set by this module specifier (a package name, e.g. @acme/contracts) instead of a relative path to the schema file')
    .option('--check', 'write nothing; exit 1 and name each stale file when the folder differs from what would be written')
    .option('--watch', 'regenerate on every save of the schema file and of the files it imports')
    .action(async (options: CodegenCommandOptions) => {
      if (options.check && options.watch) {
        console.error('error: --check and --watch cannot be combined');
        process.exitCode = 1;
        return;
      }
      if (options.watch) {
        const { watchSchema } = await import('./watch.js');
        await watchSchema(options);
        return;
      }
      // Run the schema file in a worker thread while the TypeScript compiler loads.
      const schema = resolve(options.schema ?? 'jobs.schema.ts');
      if (existsSync(schema)) (await import('./load-schema.js')).startSchemaLoad(schema);
      const { runCodegen } = await import('./run.js');
      // The time reported is the whole wall time, from the process's start (performance.timeOrigin).
      process.exitCode = await runCodegen(options, undefined, undefined, 0);
    });
}
