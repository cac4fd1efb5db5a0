/**
 * jobcraft codegen: turns the jobs declared in jobs.schema.ts into typed enqueue functions, handler types, a typed
 * worker and a JSON manifest in generated/ (docs/codegen.md); and locks and checks the job contracts across deploys
 * (docs/contracts.md).
 */
export { Generator, moduleSpecifier, type GenerateOptions, type GenerateResult, type GeneratedFile } from './generate.js';
export { runCodegen, type CodegenCommandOptions } from './run.js';
export type { Output } from './problems.js';
export { registerCodegenCommand } from './command.js';
export { staleFiles, writeOutput } from './output.js';
export { watchSchema } from './watch.js';
export { CodegenError, UsageError, formatProblem, type Problem, type ProblemStage, type SourceLocation } from './problems.js';
export { runLock, lockfileOf, lockfileState, type LockCommandOptions } from './lock.js';
export { runCheck, readAgainst, CHECK_EXIT, type CheckCommandOptions, type CheckReport } from './check.js';
export { compareLockfiles } from './contracts-compare.js';
export {
  buildLockfile,
  formatLockfile,
  parseLockfile,
  lockfilePath,
  LOCKFILE_NAME,
  LOCKFILE_VERSION,
  type Lockfile,
  type LockedJob,
  type LockedVersion,
  type LockedResult,
  type Unrepresentable,
  type JsonSchema,
} from './contracts-lockfile.js';
export { RULES, RESULT_HINTS, failsIn, type Finding, type Rule, type RuleId, type Direction, type Mode, type Severity } from './contracts-rules.js';
