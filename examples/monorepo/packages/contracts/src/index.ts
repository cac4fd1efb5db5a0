// What services import: the job set and everything generated from it (enqueue functions, handler types, the
// runtime's errors), so a service needs no other import for its jobs.
export { jobs } from './jobs.schema.js';
export * from './generated/index.js';
