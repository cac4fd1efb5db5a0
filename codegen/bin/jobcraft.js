#!/usr/bin/env node
// The jobcraft command. Installed from its package it runs the compiled JavaScript in dist/ (tsx is loaded only to
// import the user's schema file); in the jobcraft repository, where the TypeScript sources sit beside this folder,
// it runs them through tsx so an edit needs no build.
import { existsSync, mkdtempSync, readFileSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// tsx keeps a cache in the temporary folder and fails (ENOTDIR, EACCES) or spins forever (a read-only one) when it
// cannot create it there: without a writable temporary folder, tsx runs without its cache (worker threads inherit
// the variable).
try {
  rmdirSync(mkdtempSync(join(tmpdir(), 'jobcraft-')));
} catch {
  process.env.TSX_DISABLE_CACHE = '1';
}

const source = new URL('../cli.ts', import.meta.url);
if (existsSync(source)) {
  // The runtime's sources (src/) run through tsx too, but the packages they import need no tsx: imported before tsx
  // is registered, zod's ~150 modules and cron-parser's are loaded by Node alone instead of each going through tsx's
  // loader hooks (a thread of their own on Node 20, a message there and back per module), and the runtime's imports
  // of them then find them loaded. Only for a command that loads the runtime: not for --help or --version, nor for
  // codegen, lock and check without --live, whose main thread takes its rules from jobcraft/rules (no zod, no
  // cron-parser) and runs the schema in a worker thread (which preloads what it needs itself).
  const command = process.argv[2];
  const light =
    command === undefined || command.startsWith('-') || ['help', 'codegen', 'lock'].includes(command) || (command === 'check' && !process.argv.includes('--live'));
  const preloads = light ? [] : ['zod', 'cron-parser'];
  const [{ register }] = await Promise.all([import('tsx/esm/api'), ...preloads.map((name) => import(name).catch(() => {}))]);
  // The repository's tsconfig maps `jobcraft` and `jobcraft/schema` to the runtime's sources in src/.
  register({ tsconfig: fileURLToPath(new URL('../../tsconfig.json', import.meta.url)) });
  await import(source.href);
} else {
  // Synchronous from Node 20.6; on older releases the import below names the missing package itself.
  if (typeof import.meta.resolve === 'function') {
    try {
      import.meta.resolve('jobcraft/schema');
    } catch {
      console.error('error: the jobcraft command needs the runtime package beside it: npm install jobcraft zod');
      process.exit(1);
    }
    try {
      import.meta.resolve('jobcraft/rules');
    } catch {
      // A runtime older than this command (jobcraft/rules came with the command's code generator reading its rules
      // without zod): the same version of both packages is what is tested together.
      const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
      console.error(`error: the installed jobcraft package is older than this jobcraft command (it has no jobcraft/rules): npm install jobcraft@${version}`);
      process.exit(1);
    }
  }
  await import('../dist/cli.js');
}
