/** `handleSignals`: close the worker gracefully on SIGTERM and SIGINT, then exit (a second signal exits at once). */
import type { Logger } from '../logger.js';

/** Installs the handlers; returns what removes them. */
export function installSignalHandlers(logger: Logger, close: () => Promise<void>): () => void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      logger.warn(`${signal} again: exiting now`);
      process.exit(1);
    }
    signalled = true;
    logger.info(`${signal}: closing the worker`);
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error(`closing the worker failed: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
}
