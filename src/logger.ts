import { MAX_LOG_MESSAGE_BYTES, fitsBytes, truncateBytes } from './bounds.js';

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

function boundFields(fields: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (fields === undefined) return undefined;
  let out: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(fields)) {
    if (typeof value !== 'string' || fitsBytes(value, MAX_LOG_MESSAGE_BYTES)) continue;
    out ??= { ...fields };
    out[key] = truncateBytes(value, MAX_LOG_MESSAGE_BYTES);
  }
  return out ?? fields;
}

/**
 * Wraps a logger so no message (nor string field) it receives is over 8 KiB: error messages and payload issues
 * can be as large as whoever wrote them, and a log line must not carry megabytes.
 */
function boundedLogger(logger: Logger): Logger {
  // The user's method is looked up at every call: pino swaps its methods on a level change, tests spy on them.
  const wrap =
    (level: keyof Logger) =>
    (message: string, fields?: Record<string, unknown>): void => {
      const text = typeof message === 'string' ? truncateBytes(message, MAX_LOG_MESSAGE_BYTES) : message;
      if (fields === undefined) logger[level](text);
      else logger[level](text, boundFields(fields));
    };
  return { debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error') };
}

/** Resolves the `logger` option (every message bounded, see {@link boundedLogger}). */
export function resolveLogger(logger: Logger | false | undefined): Logger {
  if (logger === false) return silentLogger;
  return boundedLogger(logger ?? consoleLogger);
}
