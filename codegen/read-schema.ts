/**
 * Reads the schema file with the TypeScript compiler (through ts-morph): the `defineJobs({...})` call, its export,
 * every job's name, options and, through the type checker, the input and output type of its payload schema.
 * Nothing of the file runs here; see load-schema.ts for that.
 */
import { ts } from './typescript.js';
import { checkCron } from './cron.js';
import { CLIENT_MEMBERS, identifierProblem, jobIdentifiers, type JobIdentifiers } from './names.js';
import { CodegenError, problemAt, type Problem, type SourceLocation } from './problems.js';
import { unsendableParts } from './sendable.js';
import { FunctionValue, literalPropertyName, readStatic, type StaticValue } from './static-value.js';

/** One job as the schema file declares it. */
export interface DeclaredJob {
  readonly name: string;
  readonly ids: JobIdentifiers;
  /** Where the job's name is written. */
  readonly location: SourceLocation;
  /** Where the job's payload schema is written. */
  readonly payloadLocation: SourceLocation;
  /** Options other than `payload`, statically read, in source order. */
  readonly options: Readonly<Record<string, StaticValue>>;
  /** Where each option (and nested option, `backoff.delay`) is written. */
  readonly optionLocations: ReadonlyMap<string, SourceLocation>;
  /** The payload schema's input (`z.input`) and output (`z.output`) types. */
  readonly input: ts.Type;
  readonly output: ts.Type;
  /**
   * The result schema's input (what the handler returns) and output (what a wait gives) types, for a job that declares
   * a `result` (docs/results.md).
   */
  readonly result?: { readonly input: ts.Type; readonly output: ts.Type } | undefined;
  /**
   * The input and output types of each earlier payload version (its `versions`, oldest first: version 1, 2, …), for
   * a job that declares versions (docs/contracts.md, "Versioned payloads").
   */
  readonly versions?: readonly { readonly input: ts.Type; readonly output: ts.Type }[] | undefined;
}

/** Everything the generator learned from reading the schema file. */
export interface DeclaredSchema {
  /** Absolute path of the schema file. */
  readonly file: string;
  /** The name the job set is exported under (`default` for a default export). */
  readonly exportName: string;
  /** The module `defineJobs` was imported from, as written (`jobcraft`, `./src/index.js`). */
  readonly runtimeSpecifier: string;
  /** Where the `defineJobs` call is. */
  readonly location: SourceLocation;
  readonly jobs: readonly DeclaredJob[];
}

export function locationOf(node: ts.Node, sourceFile = node.getSourceFile()): SourceLocation {
  const { line, character } = sourceFile.getLineAndCharacterOfPosition(node.getStart(sourceFile));
  return { file: sourceFile.fileName, line: line + 1, column: character + 1 };
}

function diagnosticProblems(diagnostics: readonly ts.Diagnostic[], sourceFile: ts.SourceFile): Problem[] {
  return diagnostics
    .filter((d) => d.category === ts.DiagnosticCategory.Error)
    .map((d) => {
      const { line, character } = sourceFile.getLineAndCharacterOfPosition(d.start ?? 0);
      return problemAt(
        { file: d.file?.fileName ?? sourceFile.fileName, line: line + 1, column: character + 1 },
        `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n  ')}`,
      );
    });
}

function unwrap(node: ts.Expression): ts.Expression {
  let e = node;
  while (ts.isParenthesizedExpression(e) || ts.isSatisfiesExpression(e) || ts.isAsExpression(e)) e = e.expression;
  return e;
}

/** The symbol a name refers to, through imports and re-exports. */
function resolveAlias(checker: ts.TypeChecker, symbol: ts.Symbol | undefined): ts.Symbol | undefined {
  if (symbol !== undefined && symbol.flags & ts.SymbolFlags.Alias) return checker.getAliasedSymbol(symbol);
  return symbol;
}

function isDefineJobsCall(node: ts.CallExpression, checker: ts.TypeChecker): boolean {
  const callee = node.expression;
  const name = ts.isIdentifier(callee) ? callee : ts.isPropertyAccessExpression(callee) ? callee.name : undefined;
  if (name === undefined) return false;
  const symbol = resolveAlias(checker, checker.getSymbolAtLocation(name));
  if (symbol === undefined) return name.text === 'defineJobs';
  return symbol.getName() === 'defineJobs' && (symbol.getDeclarations() ?? []).some((d) => ts.isFunctionDeclaration(d));
}

/**
 * The names a call to `defineJobs` can be written with in this file: `defineJobs`, and local names an import
 * binds to it (`import { defineJobs as define }`). Asking the checker about every call (each `z.string()` of
 * every payload) cost more than a tenth of a second per hundred jobs, so only calls by these names are asked about.
 */
function defineJobsNames(sourceFile: ts.SourceFile): Set<string> {
  const names = new Set(['defineJobs']);
  for (const statement of sourceFile.statements) {
    const bindings = ts.isImportDeclaration(statement) ? statement.importClause?.namedBindings : undefined;
    if (bindings === undefined || !ts.isNamedImports(bindings)) continue;
    for (const element of bindings.elements) if ((element.propertyName ?? element.name).text === 'defineJobs') names.add(element.name.text);
  }
  return names;
}

function findCalls(sourceFile: ts.SourceFile, checker: ts.TypeChecker): ts.CallExpression[] {
  const calls: ts.CallExpression[] = [];
  const names = defineJobsNames(sourceFile);
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const name = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : undefined;
      if (name !== undefined && names.has(name) && isDefineJobsCall(node, checker)) calls.push(node);
    }
    ts.forEachChild(node, visit);
  };
  visit(sourceFile);
  return calls;
}

/** The module specifier `defineJobs` was imported from in this call. */
function runtimeSpecifierOf(call: ts.CallExpression, checker: ts.TypeChecker): string | undefined {
  const callee = call.expression;
  const local = ts.isIdentifier(callee) ? callee : ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) ? callee.expression : undefined;
  if (local === undefined) return undefined;
  const symbol = checker.getSymbolAtLocation(local);
  for (const d of symbol?.getDeclarations() ?? []) {
    let n: ts.Node | undefined = d;
    while (n !== undefined && !ts.isImportDeclaration(n)) n = n.parent;
    if (n !== undefined && ts.isStringLiteral(n.moduleSpecifier)) return n.moduleSpecifier.text;
  }
  return undefined;
}

/** The name under which the module exports the value of `call`. */
function exportNameOf(call: ts.CallExpression, sourceFile: ts.SourceFile, checker: ts.TypeChecker): string | undefined {
  let node: ts.Node = call;
  while (node.parent !== undefined && (ts.isParenthesizedExpression(node.parent) || ts.isSatisfiesExpression(node.parent) || ts.isAsExpression(node.parent))) {
    node = node.parent;
  }
  const parent = node.parent;
  if (parent !== undefined && ts.isExportAssignment(parent) && !parent.isExportEquals) return 'default';
  if (parent === undefined || !ts.isVariableDeclaration(parent) || !ts.isIdentifier(parent.name)) return undefined;
  const declaration = parent;
  const moduleSymbol = checker.getSymbolAtLocation(sourceFile);
  if (moduleSymbol === undefined) return undefined;
  const names: string[] = [];
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const target = resolveAlias(checker, exported);
    if (target?.getDeclarations()?.includes(declaration)) names.push(exported.getName());
  }
  return names.sort()[0];
}

/** The input and output type of a zod schema (its `_zod.input` / `_zod.output`), or `undefined` if it is none. */
function zodTypes(node: ts.Expression, checker: ts.TypeChecker): { input: ts.Type; output: ts.Type } | 'any' | undefined {
  const type = checker.getTypeAtLocation(node);
  if (type.flags & ts.TypeFlags.Any) return 'any';
  const internals = type.getProperty('_zod');
  if (internals === undefined) return undefined;
  const internalsType = checker.getTypeOfSymbolAtLocation(internals, node);
  const input = internalsType.getProperty('input');
  const output = internalsType.getProperty('output');
  if (input === undefined || output === undefined) return undefined;
  return { input: checker.getTypeOfSymbolAtLocation(input, node), output: checker.getTypeOfSymbolAtLocation(output, node) };
}

/**
 * The input and output types of each entry's `payload` in a job's `versions` (a tuple: `payloadVersion(...)` calls or
 * `{ payload, migrate }` objects, written there or as a const), or a reason when they cannot be read.
 */
function versionTypes(node: ts.Expression, checker: ts.TypeChecker): { input: ts.Type; output: ts.Type }[] | string {
  const type = checker.getTypeAtLocation(node);
  if (!checker.isTupleType(type)) return 'it is not a list of a known length (write the list in the definition, or declare it `as const`)';
  const out: { input: ts.Type; output: ts.Type }[] = [];
  for (const [i, element] of checker.getTypeArguments(type as ts.TypeReference).entries()) {
    const payload = element.getProperty('payload');
    const schema = payload === undefined ? undefined : checker.getTypeOfSymbolAtLocation(payload, node);
    const internals = schema?.getProperty('_zod');
    const internalsType = internals === undefined ? undefined : checker.getTypeOfSymbolAtLocation(internals, node);
    const input = internalsType?.getProperty('input');
    const output = internalsType?.getProperty('output');
    if (input === undefined || output === undefined) return `entry ${i} (version ${i + 1}) has no zod schema as its payload`;
    out.push({ input: checker.getTypeOfSymbolAtLocation(input, node), output: checker.getTypeOfSymbolAtLocation(output, node) });
  }
  return out;
}

/**
 * Reads `sourceFile` (part of `program`). Throws {@link CodegenError} when the file has a syntax error, breaks a
 * rule the generator needs (a readable, exported `defineJobs` call; names that become distinct identifiers; a zod
 * payload and statically readable options for every job), or has a type error.
 */
export function readSchema(program: ts.Program, sourceFile: ts.SourceFile, timer?: { mark(phase: string): void }): DeclaredSchema {
  const file = sourceFile.fileName;
  const syntax = diagnosticProblems(program.getSyntacticDiagnostics(sourceFile), sourceFile);
  if (syntax.length > 0) throw new CodegenError(syntax, 'syntax');

  timer?.mark('syntax');
  const checker = program.getTypeChecker();
  timer?.mark('binder');
  const unresolved = unresolvedImports(program, sourceFile, checker);
  if (unresolved.length > 0) throw new CodegenError(unresolved, 'imports');
  const problems: Problem[] = [];
  const at = (node: ts.Node, message: string, job?: string): void => {
    problems.push(problemAt(locationOf(node, sourceFile), message, job));
  };

  const calls = findCalls(sourceFile, checker);
  const [call, second] = calls;
  if (call === undefined) {
    throw new CodegenError([
      problemAt({ file, line: 1, column: 1 }, `no defineJobs({...}) call found in ${file.split('/').pop()}: declare the jobs with defineJobs`),
    ]);
  }
  if (second !== undefined) {
    at(second, 'a second defineJobs call: declare every job in one defineJobs({...}) call');
    throw new CodegenError(problems);
  }
  const runtimeSpecifier = runtimeSpecifierOf(call, checker);
  if (runtimeSpecifier === undefined) at(call.expression, 'defineJobs must be imported from jobcraft in the schema file');
  const exportName = exportNameOf(call, sourceFile, checker);
  if (exportName === undefined) {
    at(call, 'the result of defineJobs must be exported (export const jobs = defineJobs({...})) so generated code can import it');
  }
  const [argument, extra] = call.arguments;
  if (argument === undefined || extra !== undefined || !ts.isObjectLiteralExpression(unwrap(argument))) {
    at(argument ?? call, 'cannot read the jobs statically: pass the object literal to defineJobs directly (defineJobs({ jobName: {...} }))');
    throw new CodegenError(problems);
  }

  const jobs: DeclaredJob[] = [];
  const seen = new Map<string, ts.Node>();
  const byIdentifier = new Map<string, { name: string; node: ts.Node }>();
  // Jobs whose payload has type `any`: usually the echo of a type error, reported below unless tsc finds none.
  const untyped: { name: string; node: ts.Node }[] = [];
  for (const prop of (unwrap(argument) as ts.ObjectLiteralExpression).properties) {
    if (ts.isSpreadAssignment(prop)) {
      at(prop, 'cannot read the jobs statically: a spread in the job map hides which jobs exist; list every job in defineJobs({...})');
      continue;
    }
    const name = prop.name === undefined ? undefined : literalPropertyName(prop.name);
    if (name === undefined || prop.name === undefined) {
      at(prop, 'cannot read the job name statically: write it literally (sendWelcomeEmail: {...} or "send-welcome-email": {...})');
      continue;
    }
    const nameNode = prop.name;
    const first = seen.get(name);
    if (first !== undefined) {
      const { line, column } = locationOf(first, sourceFile);
      at(nameNode, `duplicate job name ${JSON.stringify(name)} (first declared at ${line}:${column}): job names must be unique`, name);
      continue;
    }
    seen.set(name, nameNode);
    const nameProblem = identifierProblem(name);
    if (nameProblem !== undefined) {
      at(nameNode, nameProblem, name);
      continue;
    }
    const ids = jobIdentifiers(name);
    const clash = byIdentifier.get(ids.enqueue);
    if (clash !== undefined) {
      const { line, column } = locationOf(clash.node, sourceFile);
      at(
        nameNode,
        `job names ${JSON.stringify(name)} and ${JSON.stringify(clash.name)} (at ${line}:${column}) both become ${ids.enqueue} and ${ids.input}: rename one of them`,
        name,
      );
      continue;
    }
    if (CLIENT_MEMBERS.has(ids.enqueue)) {
      at(nameNode, `job name ${JSON.stringify(name)} becomes ${ids.enqueue}, which the job client already has: rename the job`, name);
      continue;
    }
    byIdentifier.set(ids.enqueue, { name, node: nameNode });

    if (!ts.isPropertyAssignment(prop) || !ts.isObjectLiteralExpression(unwrap(prop.initializer))) {
      at(ts.isPropertyAssignment(prop) ? prop.initializer : prop, `cannot read job ${JSON.stringify(name)} statically: write its definition as an object literal ({ payload: ..., queue: ... })`, name);
      continue;
    }
    const job = readJob(name, ids, nameNode, unwrap(prop.initializer) as ts.ObjectLiteralExpression, checker, sourceFile, (node, message) => at(node, message, name));
    if (job === 'any') untyped.push({ name, node: nameNode });
    else if (job !== undefined) jobs.push(job);
  }
  if (problems.length === 0 && jobs.length === 0 && untyped.length === 0) at(argument, 'defineJobs declares no jobs');
  if (problems.length > 0) throw new CodegenError(problems);
  timer?.mark('read jobs');

  const typeErrors = diagnosticProblems(program.getSemanticDiagnostics(sourceFile), sourceFile);
  if (typeErrors.length > 0) throw new CodegenError(typeErrors, 'types');
  for (const { name, node } of untyped) {
    at(node, `the payload of job ${JSON.stringify(name)} has type any: codegen needs the zod schema's own type (remove the cast or annotation)`, name);
  }
  if (problems.length > 0) throw new CodegenError(problems);

  for (const job of jobs) problems.push(...unsendableProblems(job, checker));
  if (problems.length > 0) throw new CodegenError(problems, 'payload');

  return { file, exportName: exportName as string, runtimeSpecifier: runtimeSpecifier as string, location: locationOf(call, sourceFile), jobs };
}

/** Diagnostics the compiler gives for a module specifier it cannot resolve (TS2307 and its variants). */
const RESOLUTION_CODES = new Set([2307, 2792, 2834, 2835, 7016]);

/**
 * A problem at every import (or `export … from`) of the schema file whose module the compiler cannot resolve: a
 * typo (`'jobcraft/shcema'`), a package that is not installed, or a `moduleResolution` (node10) that does not read
 * the package's `exports`. Nothing else could be read right then (an unresolved `defineJobs` is no `defineJobs`),
 * so these come first, each with the compiler's own reason.
 */
function unresolvedImports(program: ts.Program, sourceFile: ts.SourceFile, checker: ts.TypeChecker): Problem[] {
  const specifiers: ts.StringLiteral[] = [];
  for (const statement of sourceFile.statements) {
    const specifier = ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement) ? statement.moduleSpecifier : undefined;
    if (specifier === undefined || !ts.isStringLiteral(specifier)) continue;
    if (ts.isImportDeclaration(statement) && statement.importClause === undefined) continue; // a side-effect import
    if (checker.getSymbolAtLocation(specifier) === undefined) specifiers.push(specifier);
  }
  if (specifiers.length === 0) return [];
  const diagnostics = program.getSemanticDiagnostics(sourceFile);
  const name = sourceFile.fileName.split(/[\\/]/).pop() ?? sourceFile.fileName;
  const problems: Problem[] = [];
  for (const specifier of specifiers) {
    const start = specifier.getStart(sourceFile);
    const reasons = diagnostics.filter((d) => d.start === start && d.category === ts.DiagnosticCategory.Error);
    // An import the compiler resolves to a module without symbols (an empty file) has no diagnostic: not a problem.
    const reason = reasons.find((d) => RESOLUTION_CODES.has(d.code)) ?? reasons[0];
    if (reason === undefined) continue;
    const text = `TS${reason.code}: ${ts.flattenDiagnosticMessageText(reason.messageText, '\n  ')}`;
    problems.push(problemAt(locationOf(specifier, sourceFile), `cannot resolve '${specifier.text}' from ${name}: ${text}`));
  }
  return problems;
}

function readJob(
  name: string,
  ids: JobIdentifiers,
  nameNode: ts.Node,
  definition: ts.ObjectLiteralExpression,
  checker: ts.TypeChecker,
  sourceFile: ts.SourceFile,
  at: (node: ts.Node, message: string) => void,
): DeclaredJob | 'any' | undefined {
  const job = JSON.stringify(name);
  let payload: { input: ts.Type; output: ts.Type } | 'any' | undefined;
  let payloadSeen = false;
  let payloadNode: ts.Node | undefined;
  let result: { input: ts.Type; output: ts.Type } | undefined;
  let versions: { input: ts.Type; output: ts.Type }[] | undefined;
  let ok = true;
  const options: Record<string, StaticValue> = {};
  const optionLocations = new Map<string, SourceLocation>();
  const notStatic = (node: ts.Node, option: string): void => {
    const text = node.getText(sourceFile).replace(/\s+/g, ' ');
    const shown = text.length > 60 ? `${text.slice(0, 57)}...` : text;
    at(node, `option ${option} of job ${job} cannot be read statically: \`${shown}\` is only known when the program runs; write a literal or a const`);
    ok = false;
  };

  for (const prop of definition.properties) {
    if (ts.isSpreadAssignment(prop)) {
      const r = readStatic(prop.expression, checker);
      if (!r.ok || typeof r.value !== 'object' || r.value === null || Array.isArray(r.value) || r.value instanceof FunctionValue) {
        notStatic(r.ok ? prop.expression : r.node, `spread ...${prop.expression.getText(sourceFile)}`);
        continue;
      }
      for (const [key, value] of Object.entries(r.value)) {
        options[key] = value;
        optionLocations.set(key, locationOf(prop.expression, sourceFile));
      }
      continue;
    }
    const key = prop.name === undefined ? undefined : literalPropertyName(prop.name);
    if (key === undefined) {
      at(prop, `cannot read an option name of job ${job} statically: write it literally`);
      ok = false;
      continue;
    }
    if (key === 'payload' && (ts.isPropertyAssignment(prop) || ts.isShorthandPropertyAssignment(prop))) {
      payloadSeen = true;
      const expression = ts.isPropertyAssignment(prop) ? prop.initializer : prop.name;
      payloadNode = expression;
      const types = zodTypes(expression, checker);
      if (types === undefined) {
        const shown = checker.typeToString(checker.getTypeAtLocation(expression));
        at(expression, `the payload of job ${job} is not a zod schema (its type is ${shown}): use a zod schema such as z.object({...})`);
        ok = false;
      } else {
        payload = types;
      }
      continue;
    }
    if (key === 'result' && (ts.isPropertyAssignment(prop) || ts.isShorthandPropertyAssignment(prop))) {
      // A zod schema like the payload: its types are read, it is not a static option.
      const expression = ts.isPropertyAssignment(prop) ? prop.initializer : prop.name;
      const types = zodTypes(expression, checker);
      if (types === undefined || types === 'any') {
        const shown = checker.typeToString(checker.getTypeAtLocation(expression));
        at(expression, `the result of job ${job} is not a zod schema (its type is ${shown}): use a zod schema such as z.object({...})`);
        ok = false;
      } else {
        result = types;
      }
      continue;
    }
    if (key === 'versions' && (ts.isPropertyAssignment(prop) || ts.isShorthandPropertyAssignment(prop))) {
      // Zod schemas and migrations: their types are read, they are not static options.
      const expression = ts.isPropertyAssignment(prop) ? prop.initializer : prop.name;
      const types = versionTypes(expression, checker);
      if (typeof types === 'string') {
        at(expression, `the versions of job ${job} cannot be read: ${types}`);
        ok = false;
      } else {
        versions = types;
        optionLocations.set(key, locationOf(expression, sourceFile));
      }
      continue;
    }
    const valueNode = ts.isPropertyAssignment(prop) ? prop.initializer : ts.isShorthandPropertyAssignment(prop) ? prop.name : undefined;
    if (valueNode === undefined) {
      options[key] = new FunctionValue(prop.getText(sourceFile));
      optionLocations.set(key, locationOf(prop, sourceFile));
      continue;
    }
    const r = readStatic(valueNode, checker);
    if (!r.ok) {
      notStatic(r.node, JSON.stringify(key));
      continue;
    }
    if (r.value === undefined) continue;
    options[key] = r.value;
    recordLocations(key, valueNode, optionLocations, sourceFile);
  }
  if ('payload' in options) {
    at(nameNode, `job ${job}: write the payload in the job's definition (payload: z.object({...})), not through a spread`);
    return undefined;
  }
  if (!payloadSeen) {
    if (ok) at(nameNode, `job ${job} has no payload: every job needs a zod schema for its payload (payload: z.object({...}))`);
    return undefined;
  }
  for (const problem of checkCron(options)) {
    const node = optionNode(definition, problem.option) ?? nameNode;
    at(node, `job ${job}, option "${problem.option}": ${problem.message}`);
    ok = false;
  }
  if (!ok || payload === undefined) return undefined;
  if (payload === 'any') return 'any';
  return {
    name,
    ids,
    location: locationOf(nameNode, sourceFile),
    payloadLocation: locationOf(payloadNode ?? nameNode, sourceFile),
    options,
    optionLocations,
    input: payload.input,
    output: payload.output,
    result,
    ...(versions === undefined || versions.length === 0 ? {} : { versions }),
  };
}

/**
 * A problem for every part of the job's input that can never be sent (a `z.date()` field: see sendable.ts), at the
 * field's declaration when it is in the user's files, else at the payload schema.
 */
function unsendableProblems(job: DeclaredJob, checker: ts.TypeChecker): Problem[] {
  const problems = unsendableParts(job.input, checker).map((part) => {
    const declaration = part.declaration;
    const own = declaration !== undefined && !/[\\/]node_modules[\\/]/.test(declaration.getSourceFile().fileName);
    const location = own ? locationOf(declaration) : job.payloadLocation;
    const what = part.path === '' ? 'the payload' : `field "${part.path}"`;
    return problemAt(location, `job ${JSON.stringify(job.name)}, ${what} can never be sent: its input is ${part.message}`, job.name);
  });
  // In the order of the file (zod's types list optional properties last).
  return problems.sort((a, b) => (a.file === b.file ? a.line - b.line || a.column - b.column : 0));
}

/** Remembers where option `path` and the options nested in it are written, for messages about them. */
function recordLocations(path: string, value: ts.Node, into: Map<string, SourceLocation>, sourceFile: ts.SourceFile): void {
  into.set(path, locationOf(value, sourceFile));
  const inner = ts.isExpression(value) ? unwrap(value) : value;
  if (!ts.isObjectLiteralExpression(inner)) return;
  for (const prop of inner.properties) {
    const key = prop.name === undefined ? undefined : literalPropertyName(prop.name);
    if (key === undefined) continue;
    recordLocations(`${path}.${key}`, ts.isPropertyAssignment(prop) ? prop.initializer : prop, into, sourceFile);
  }
}

/** The value node of option `path` (`cron`, `backoff.delay`) in a job definition, when written there. */
function optionNode(definition: ts.ObjectLiteralExpression, path: string): ts.Node | undefined {
  let object: ts.ObjectLiteralExpression | undefined = definition;
  let found: ts.Node | undefined;
  for (const part of path.split('.')) {
    const prop: ts.ObjectLiteralElementLike | undefined = object?.properties.find((p) => p.name !== undefined && literalPropertyName(p.name) === part);
    if (prop === undefined || !ts.isPropertyAssignment(prop)) return found;
    found = prop.initializer;
    const inner = unwrap(prop.initializer);
    object = ts.isObjectLiteralExpression(inner) ? inner : undefined;
  }
  return found;
}
