/** Where jobcraft writes what it does. Pass your own (pino, winston …) through the `logger` option, or `false`. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const noop = (): void => {};

/** Logs nothing. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/** The default: warnings and errors to the console, with `[jobcraft]` in front; info and debug are dropped. */
export const consoleLogger: Logger = {
  debug: noop,
  info: noop,
  warn: (message, fields) => console.warn(`[jobcraft] ${message}`, ...(fields ? [fields] : [])),
  error: (message, fields) => console.error(`[jobcraft] ${message}`, ...(fields ? [fields] : [])),
};

/** Resolves the `logger` option. */
export function resolveLogger(logger: Logger | false | undefined): Logger {
  if (logger === false) return silentLogger;
  return logger ?? consoleLogger;
}
