/**
 * The job name rule, in a module of its own with no imports: the runtime (job-options.ts) and the code generator's
 * import-free entry point (rules.ts, `jobcraft/rules`) both take it from here.
 */

/** Job names: a letter, then letters, digits, `_`, `-` or `.`; at most 100 characters. */
export const JOB_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,99}$/;
