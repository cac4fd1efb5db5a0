/** The worker's public surface (see worker.ts for the wiring and docs/architecture.md for the map of its parts). */
export { createWorker, type Worker } from './worker.js';
export type { WorkerOptions } from './options.js';
export type { Handler, HandlersFor, JobContext, Middleware, MiddlewareContext } from './job-run.js';
