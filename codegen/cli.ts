/**
 * The `jobcraft` command line. Each command lives in its own module and registers itself on the program here.
 * Codegen's commands load the generator (and the TypeScript compiler) only when they run; the operations commands
 * (ops-commands.ts: `jobcraft job`, `dead …`, `jobs …`, `pause`, `cron …`, `enqueue` …) load the runtime `jobcraft`,
 * the same package the user's services run, and their output toolkit only when they run too; `jobcraft dashboard`
 * (dashboard-command.ts) loads @jobcraft/dashboard only when it runs.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerCodegenCommand } from './command.js';
import { registerContractCommands } from './contracts-commands.js';
import { registerOpsCommands } from './ops-commands.js';
import { registerDashboardCommand } from './dashboard-command.js';

// This file runs as codegen/cli.ts in the repository and as dist/cli.js from the package.
const manifest = new URL(import.meta.url.endsWith('.ts') ? './package.json' : '../package.json', import.meta.url);
const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };

/** Every command, in the order `jobcraft --help` lists them. */
const COMMANDS: readonly ((program: Command) => void)[] = [registerCodegenCommand, registerContractCommands, registerOpsCommands, registerDashboardCommand];

/** Builds the program with every command registered. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('jobcraft')
    .description('Type-safe background jobs on Redis: declared once as zod schemas in jobs.schema.ts.')
    .version(pkg.version)
    .showHelpAfterError();
  for (const register of COMMANDS) register(program);
  return program;
}

// `jobcraft … | head`: when the reader goes away, the command ends quietly (EPIPE on stdout), as Unix tools do,
// instead of dying with a stack trace; a `stats --watch` piped that way ends with 0.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
});

await buildProgram().parseAsync(process.argv);
