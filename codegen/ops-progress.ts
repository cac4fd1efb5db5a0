/**
 * What a long run over Redis shows and takes on the command line (`jobcraft dead|jobs <action> --all`,
 * `jobcraft check --live`): Ctrl-C that stops it after its current page, and a progress bar per hash it reads.
 */
import cliProgress from 'cli-progress';
import { EXIT, type Printer } from './ops-output.js';

/** Set up by the first run of the process: the first Ctrl-C aborts it, and the run stops after its current page. */
let interrupt: AbortController | undefined;

/**
 * The signal that stops a run after its current page: the first Ctrl-C aborts it and prints `note` (what happens
 * now), a second one exits at once ({@link EXIT}.interrupted). One per process: later calls get the same signal.
 */
export function interruptSignal(out: Printer, note: string): AbortSignal {
  if (interrupt !== undefined) return interrupt.signal;
  const controller = new AbortController();
  interrupt = controller;
  process.on('SIGINT', () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    controller.abort();
    out.note(note);
  });
  return controller.signal;
}

/** How {@link progressBar} draws a run's progress reports. */
export interface ProgressBarStyle<P> {
  /** Which hash a report is about: a new key ends the bar and starts the next one. */
  key(p: P): string;
  /** The bar's format (cli-progress placeholders: `{bar}`, `{value}`, `{total}`, and those of `values`). */
  format(p: P): string;
  /** The numbers the format shows besides value and total. */
  values(p: P): Record<string, number>;
  /** Whether a finished bar is erased. */
  readonly clearOnComplete: boolean;
}

/**
 * A progress bar on stderr (when it is a terminal and the output is not JSON) fed by a run's progress reports, one bar
 * per hash read. Call `stop()` when the run ends.
 */
export function progressBar<P extends { readonly total: number; readonly scanned: number }>(
  out: Printer,
  style: ProgressBarStyle<P>,
): { onProgress: (p: P) => void; stop: () => void } {
  let bar: cliProgress.SingleBar | undefined;
  let current: string | undefined;
  const stop = (): void => {
    bar?.stop();
    bar = undefined;
  };
  const onProgress = (p: P): void => {
    const key = style.key(p);
    if (key !== current) {
      stop();
      current = key;
      if (!out.json && process.stderr.isTTY === true && p.total > 0) {
        bar = new cliProgress.SingleBar(
          { stream: process.stderr, format: style.format(p), hideCursor: true, clearOnComplete: style.clearOnComplete },
          cliProgress.Presets.shades_classic,
        );
        bar.start(p.total, 0, Object.fromEntries(Object.keys(style.values(p)).map((name) => [name, 0])));
      }
    }
    bar?.update(Math.min(p.scanned, p.total), style.values(p));
  };
  return { onProgress, stop };
}
