/**
 * jobcraft codegen: turns the jobs declared in jobs.schema.ts into typed enqueue functions, handler types, a typed
 * worker and a JSON manifest in generated/. See docs/codegen.md.
 */
export { Generator, moduleSpecifier, type GenerateOptions, type GenerateResult, type GeneratedFile } from './generate.js';
export { runCodegen, type CodegenCommandOptions, type Output } from './run.js';
export { registerCodegenCommand } from './command.js';
export { staleFiles, writeOutput } from './output.js';
export { watchSchema } from './watch.js';
export { CodegenError, UsageError, formatProblem, type Problem, type ProblemStage, type SourceLocation } from './problems.js';
