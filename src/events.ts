import type { DeadReason } from './dead-letters.js';
import type { StoredError } from './errors.js';
import type { Logger } from './logger.js';

/** Identifies one attempt of one job in events. */
export interface JobRef {
  readonly id: string;
  /** Job name; undefined when the stored job could not be read. */
  readonly name: string | undefined;
  readonly queue: string;
  /** Attempt number, from 1. */
  readonly attempt: number;
  readonly maxAttempts: number | undefined;
}

/** Events a worker emits. Listeners must not throw (a throw is logged and ignored). */
export interface WorkerEvents {
  /** The handler returned and the completion is recorded in Redis. */
  completed: (event: { job: JobRef; durationMs: number }) => void;
  /** An attempt failed (thrown error, timeout, lost lease). `willRetry` says whether another attempt follows. */
  failed: (event: { job: JobRef; error: unknown; willRetry: boolean }) => void;
  /** A failed job was scheduled to run again after `delayMs`. */
  retrying: (event: { job: JobRef; error: unknown; delayMs: number }) => void;
  /** A job went to the dead letters. */
  dead: (event: { job: JobRef; reason: DeadReason; error: StoredError }) => void;
  /** Something went wrong in the worker itself (usually Redis); it keeps going. */
  error: (error: Error) => void;
}

type Listener = (...args: never[]) => void;

/** A small typed event emitter that never throws on `error` without listeners (it logs instead). */
export class TypedEmitter<E extends { [K in keyof E]: Listener }> {
  private readonly listeners = new Map<keyof E, Set<Listener>>();

  constructor(private readonly listenerErrorLog: Logger) {}

  /** Adds a listener. */
  on<K extends keyof E>(event: K, listener: E[K]): this {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return this;
  }

  /** Removes a listener. */
  off<K extends keyof E>(event: K, listener: E[K]): this {
    this.listeners.get(event)?.delete(listener);
    return this;
  }

  /** Adds a listener that runs once. */
  once<K extends keyof E>(event: K, listener: E[K]): this {
    const wrapped = ((...args: Parameters<E[K]>) => {
      this.off(event, wrapped as E[K]);
      (listener as (...a: Parameters<E[K]>) => void)(...args);
    }) as E[K];
    return this.on(event, wrapped);
  }

  /** Whether anyone listens to `event`. */
  listenerCount(event: keyof E): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  /** Calls the listeners of `event` (for the library's own parts: the public `Worker` type does not offer it). */
  emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): void {
    const set = this.listeners.get(event);
    if (set === undefined || set.size === 0) return;
    for (const listener of [...set]) {
      try {
        (listener as (...a: Parameters<E[K]>) => void)(...args);
      } catch (err) {
        this.listenerErrorLog.error(`a "${String(event)}" listener threw`, { error: err });
      }
    }
  }
}
