/**
 * The `jobcraft` command line. Each subcommand lives in its own module and registers itself on the program here.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerCodegenCommand } from '../codegen/command.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** Builds the program with every subcommand registered. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('jobcraft')
    .description('Type-safe background jobs on Redis: declared once as zod schemas in jobs.schema.ts.')
    .version(pkg.version)
    .showHelpAfterError();
  registerCodegenCommand(program);
  return program;
}

await buildProgram().parseAsync(process.argv);
