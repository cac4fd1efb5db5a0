/**
 * `jobcraft codegen --watch`: regenerates whenever the schema file or a local file it imports is saved. Directories
 * are watched rather than files, because editors often save by writing a new file and renaming it over the old one.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { runCodegen, type CodegenCommandOptions } from './run.js';
import type { Output } from './problems.js';
import { Generator } from './generate.js';
import { closeSpareWorker, prepareSpareWorker } from './load-schema.js';

const DEBOUNCE_MS = 60;

/** Runs codegen now and after every change, until `signal` aborts (or forever). */
export async function watchSchema(
  options: CodegenCommandOptions,
  signal?: AbortSignal,
  out?: Output,
  generator = new Generator({ incremental: true }),
): Promise<void> {
  const watchers = new Map<string, FSWatcher>();
  let inputs = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const run = async (): Promise<void> => {
    const started = performance.now();
    try {
      await runCodegen({ ...options, watch: false }, generator, out, started);
    } catch (err) {
      // Not a problem of the schema (those are reported by runCodegen) but a failure of the generator itself: a
      // one-off command ends with it, a watch reports it and waits for the next save.
      (out ?? console).error(`error: generating failed unexpectedly (still watching): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
    inputs = new Set(generator.lastInputs());
    for (const dir of new Set([...inputs].map((f) => dirname(f)))) {
      if (watchers.has(dir)) continue;
      const watcher = watch(dir, (_event, name) => {
        if (name !== null && inputs.has(join(dir, basename(name.toString())))) schedule();
      });
      watchers.set(dir, watcher);
    }
    (out ?? console).log(`watching ${inputs.size} file(s) for changes`);
    // The next run's worker thread starts now, while nothing happens.
    prepareSpareWorker();
  };
  const schedule = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      running = running.then(run);
    }, DEBOUNCE_MS);
  };

  running = run();
  await running;
  await new Promise<void>((resolveDone) => {
    if (signal === undefined) return;
    if (signal.aborted) resolveDone();
    signal.addEventListener('abort', () => resolveDone(), { once: true });
  });
  clearTimeout(timer);
  await running;
  for (const w of watchers.values()) w.close();
  closeSpareWorker();
}
