/**
 * The breaking-change check: compares two lockfiles (the locked contracts and the current ones) in both directions,
 * by their JSON Schemas alone, so the locked side may come from any git ref. In each direction the question is the
 * same: is every payload the writer may produce (its output schema) accepted by the reader (its input schema)? A
 * change that makes the answer "not always" is breaking in that direction; one that makes the reader accept more is
 * reported as safe. A job's result is compared the same way with the roles swapped: workers write it (what the
 * handler returned, the result's input side) and waiters read it (they parse it with their result schema, its input
 * side); backward is old workers' results read by new waiters, forward new workers' results read by old waiters.
 * Pure: no files, no zod.
 */
import type { JsonSchema, Lockfile, LockedJob, LockedResult, LockedVersion, Unrepresentable } from './contracts-lockfile.js';
import { canonicalJson } from './contracts-lockfile.js';
import { RESULT_HINTS, RULES, type Direction, type Finding, type RuleId, type Severity } from './contracts-rules.js';

/**
 * Every finding between the locked contracts (`before`) and the current ones (`after`), sorted by job, direction,
 * path and rule.
 */
export function compareLockfiles(before: Lockfile, after: Lockfile): Finding[] {
  const findings: Finding[] = [];
  const names = [...new Set([...Object.keys(before.jobs), ...Object.keys(after.jobs)])].sort();
  const added = names.filter((n) => before.jobs[n] === undefined);
  // A job gone whose name is now an alias of a current job: renamed (its stored jobs run as that job).
  const renamedTo = new Map<string, string>();
  for (const name of names) {
    for (const alias of after.jobs[name]?.aliases ?? []) {
      if (before.jobs[alias] !== undefined && after.jobs[alias] === undefined) renamedTo.set(alias, name);
    }
  }
  const renamedFrom = new Map<string, string[]>();
  for (const [from, to] of renamedTo) renamedFrom.set(to, [...(renamedFrom.get(to) ?? []), from]);
  for (const name of names) {
    const old = before.jobs[name];
    const now = after.jobs[name];
    const to = renamedTo.get(name);
    if (old !== undefined && now === undefined && to !== undefined) {
      findings.push(...compareRename(name, old, to, after.jobs[to] as LockedJob));
    } else if (old === undefined && now !== undefined && renamedFrom.has(name)) {
      // The new name of a renamed job: old workers know only the old name (the rename's forward finding, below).
      const froms = renamedFrom.get(name) ?? [];
      const message = `job ${name} is the new name of ${froms.join(', ')}: workers of the locked job set do not know it, and dead-letter its jobs as unknown_job`;
      findings.push(finding('job-renamed', name, '', 'forward', 'breaking', message));
    } else if (old === undefined && now !== undefined) {
      findings.push(finding('job-added', name, '', 'forward', 'safe', `job ${name} (queue ${now.queue}) is new`));
    } else if (old !== undefined && now === undefined) {
      const twin = added.find((a) => sameContract(old, after.jobs[a]));
      const message = `job ${name} is gone${twin === undefined ? '' : `; ${twin} has the same payload and queue: renamed?`}`;
      findings.push(finding('job-removed', name, '', 'backward', 'breaking', message));
    } else if (old !== undefined && now !== undefined) {
      findings.push(...compareJobs(name, old, now));
    }
  }
  return findings.sort(
    (a, b) => cmp(a.job, b.job) || cmp(a.direction, b.direction) || cmp(a.path, b.path) || cmp(a.rule, b.rule) || cmp(a.message, b.message),
  );
}

/**
 * The findings for job `from`, gone, whose name is now an alias of `to` (`now`): backward, the jobs stored under the
 * old name are read by the new workers as `to` (the old job's live versions against `to`'s current one, as for a
 * job kept under its name); a queue change breaks as for any job. (Forward: see the `job-renamed` finding on `to`.)
 */
function compareRename(from: string, old: LockedJob, to: string, now: LockedJob): Finding[] {
  const out: Finding[] = [finding('job-renamed', from, '', 'backward', 'safe', `job ${from} was renamed to ${to} (an alias of ${to}): its stored jobs run as ${to}`)];
  if (old.queue !== now.queue) {
    out.push(finding('queue-changed', from, '', 'backward', 'breaking', `queue ${old.queue} → ${now.queue} (renamed to ${to})`));
  }
  for (const f of compareLiveVersions(from, old, now)) if (f.direction === 'backward') out.push(f);
  return dedupe(out);
}

/** The findings for one job present on both sides. */
function compareJobs(name: string, old: LockedJob, now: LockedJob): Finding[] {
  const out: Finding[] = [];
  if (old.queue !== now.queue) {
    for (const direction of ['backward', 'forward'] as const) {
      out.push(finding('queue-changed', name, '', direction, 'breaking', `queue ${old.queue} → ${now.queue}`));
    }
  }
  out.push(...compareLiveVersions(name, old, now));
  out.push(...compareResults(name, old.result, now.result));
  return dedupe(out);
}

/** The version a job's producers write: its `emitVersion`, else its last (current) version. */
function emitted(job: LockedJob): LockedVersion {
  return job.versions.find((v) => v.version === job.emitVersion) ?? last(job);
}

/**
 * The payload findings of a job on both sides (docs/contracts.md, "Versioned payloads"). Backward: every locked
 * version, as old producers wrote it, read by the new workers with the schema of the same version number (they
 * migrate it up from there: a migration is code, trusted, not compared); a locked version the new job set no longer
 * has is `version-removed`. Forward: the version new producers write, read by the old workers with their schema of
 * that number; one they do not know is `version-added`. For jobs without versions (one version on both sides) this
 * is the comparison of the current schemas, as before versions existed.
 */
function compareLiveVersions(name: string, old: LockedJob, now: LockedJob): Finding[] {
  const out: Finding[] = [];
  const versioned = old.versions.length > 1 || now.versions.length > 1;
  const label = (v: number) => (f: Finding): Finding => (versioned ? { ...f, message: `version ${v}: ${f.message}` } : f);
  const newest = last(now).version;
  for (const written of old.versions) {
    const reader = now.versions.find((v) => v.version === written.version);
    if (reader === undefined) {
      const message = `version ${written.version} is gone (the workers now know versions 1 to ${newest}): jobs stored with it fail`;
      out.push(finding('version-removed', name, '', 'backward', 'breaking', message));
      continue;
    }
    out.push(...compareVersions(name, 'backward', written, reader, written.hash === reader.hash).map(label(written.version)));
  }
  if (newest > last(old).version) {
    const message = `version ${newest} is new (with a migration from version ${newest - 1})`;
    out.push(finding('version-added', name, '', 'backward', 'safe', message));
  }
  const writes = emitted(now);
  const oldReader = old.versions.find((v) => v.version === writes.version);
  if (oldReader === undefined) {
    const message = `producers write version ${writes.version}; the locked workers know versions 1 to ${last(old).version} and fail those jobs (retried) until they are replaced`;
    out.push(finding('version-added', name, '', 'forward', 'breaking', message));
  } else {
    out.push(...compareVersions(name, 'forward', writes, oldReader, writes.hash === oldReader.hash).map(label(writes.version)));
  }
  return out;
}

/**
 * The findings for a job's result (`old`: locked, `now`: current). Backward: results old workers stored (kept for
 * `resultRetention`) read by new waiters; forward: new workers' results read by old waiters. Both sides are the
 * result's input JSON Schema: what is stored is what the handler returned, and a waiter parses it with its schema.
 * Paths start with `result`, findings carry `part: 'result'`.
 */
function compareResults(name: string, old: LockedResult | undefined, now: LockedResult | undefined): Finding[] {
  if (old === undefined && now === undefined) return [];
  const mark = (f: Finding): Finding => ({ ...f, part: 'result', path: resultPath(f.path) });
  if (old === undefined) {
    return [mark(finding('result-added', name, '', 'backward', 'safe', `job ${name} now declares a result; old workers complete its jobs without one`))];
  }
  if (now === undefined) {
    return [mark(finding('result-removed', name, '', 'forward', 'breaking', `job ${name} no longer declares a result; old waiters get none from new workers`))];
  }
  const same = old.hash === now.hash;
  return [
    ...compareVersions(name, 'backward', old, now, same, 'result'),
    ...compareVersions(name, 'forward', now, old, same, 'result'),
  ].map((f) => (f.severity === 'breaking' && f.rule !== 'unrepresentable' ? { ...mark(f), hint: RESULT_HINTS[f.direction] } : mark(f)));
}

/** A result's field path as shown: `result`, `result.url`, `result[]`, `result{}`. */
function resultPath(path: string): string {
  if (path === '') return 'result';
  return path.startsWith('[') || path.startsWith('{') ? `result${path}` : `result.${path}`;
}

/** What the comparison needs of a payload version or a result. */
type Schemas = Pick<LockedVersion, 'input' | 'output' | 'unrepresentable'>;

/** What is compared: a payload (producers write its output side) or a result (workers write its input side). */
type Part = 'payload' | 'result';

/**
 * The findings for payloads of `writer` read with `reader`, in `direction`. A safe finding that comparing either
 * version with itself also makes (a field with a default is required in the output, optional in the input) is no
 * change and is left out.
 */
function compareVersions(job: string, direction: Direction, writer: Schemas, reader: Schemas, sameHash: boolean, part: Part = 'payload'): Finding[] {
  const found = rawCompare(job, direction, writer, reader, sameHash, part);
  if (sameHash) return found.filter((f) => f.severity === 'breaking' || f.rule === 'unrepresentable');
  const key = (f: Finding): string => `${f.rule}|${f.path}|${f.message}`;
  const baseline = new Set([...rawCompare(job, direction, writer, writer, true, part), ...rawCompare(job, direction, reader, reader, true, part)].map(key));
  return found.filter((f) => f.severity === 'breaking' || f.rule === 'unrepresentable' || !baseline.has(key(f)));
}

function rawCompare(job: string, direction: Direction, writer: Schemas, reader: Schemas, sameHash: boolean, part: Part): Finding[] {
  // A payload is written in its output form; a result in its input form (what the handler returned).
  const writtenSide = part === 'result' ? 'input' : 'output';
  const ctx: Context = {
    job,
    direction,
    sameHash,
    part,
    findings: [],
    writerRoot: writer[writtenSide],
    readerRoot: reader.input,
    notes: notesByPath([...writer.unrepresentable.filter((u) => u.side === writtenSide), ...reader.unrepresentable.filter((u) => u.side === 'input')]),
    refPairs: new Set(),
    writerNotes: writer.unrepresentable,
    readerNotes: reader.unrepresentable,
  };
  // Notes inside shared definitions ($defs) have no field path: they concern the whole payload.
  const defNotes = [...ctx.notes].filter(([path]) => path.startsWith('#'));
  if (defNotes.length > 0) {
    unrepresentable(ctx, '', defNotes.flatMap(([, n]) => n));
    return ctx.findings;
  }
  compareNodes(ctx, writer[writtenSide], reader.input, '');
  return ctx.findings;
}

interface Context {
  readonly job: string;
  readonly direction: Direction;
  /** Whether the writer's and the reader's versions hash the same (unrepresentable parts are then unchanged). */
  readonly sameHash: boolean;
  /** A payload (producers write, workers read) or a result (workers write, waiters read). */
  readonly part: Part;
  /** Every note of the writer's and of the reader's version (both sides): a part is unchanged when they agree at its path. */
  readonly writerNotes: readonly Unrepresentable[];
  readonly readerNotes: readonly Unrepresentable[];
  readonly findings: Finding[];
  readonly writerRoot: JsonSchema;
  readonly readerRoot: JsonSchema;
  readonly notes: ReadonlyMap<string, readonly Unrepresentable[]>;
  /** `$ref` pairs being compared: a recursive schema is assumed compatible with itself on the way back. */
  readonly refPairs: Set<string>;
}

function notesByPath(notes: readonly Unrepresentable[]): Map<string, Unrepresentable[]> {
  const map = new Map<string, Unrepresentable[]>();
  for (const note of notes) map.set(note.path, [...(map.get(note.path) ?? []), note]);
  return map;
}

/** The hint of a safe finding: the rule's own hint is how to fix it where it breaks. */
const SAFE_HINT = 'nothing to do in this direction';
const UNCHANGED_HINT = 'a changed transform or refinement function is not seen: check such changes by hand';

function finding(rule: RuleId, job: string, path: string, direction: Direction, severity: Severity, message: string): Finding {
  const hint =
    severity === 'breaking' ? RULES[rule].hint : rule === 'unrepresentable' ? UNCHANGED_HINT : rule === 'job-added' || rule === 'result-added' ? RULES[rule].hint : SAFE_HINT;
  return { rule, job, path, direction, severity, message, hint };
}

/** Who reads what is compared: workers read payloads, waiters read results. */
function readers(ctx: Context): string {
  return ctx.part === 'result' ? 'waiters' : 'workers';
}

/** Whether the reader is the new side (backward) — rules are named as changes from old to new. */
function readerIsNew(ctx: Context): boolean {
  return ctx.direction === 'backward';
}

/** Reports a change: `narrower` names it when the reader is new, `wider` when the reader is old (and vice versa for safe). */
function report(ctx: Context, path: string, severity: Severity, readerNarrows: boolean, narrower: RuleId, wider: RuleId, message: string): void {
  // The reader accepting less than the writer writes: the new side narrowed (backward) or the new side widened (forward).
  const rule = readerNarrows === readerIsNew(ctx) ? narrower : wider;
  ctx.findings.push(finding(rule, ctx.job, path, ctx.direction, severity, message));
}

/** `old → new`, from what the writer and the reader have at a place (the reader is the new side backward). */
function change(ctx: Context, writerText: string, readerText: string): string {
  return readerIsNew(ctx) ? `${writerText} → ${readerText}` : `${readerText} → ${writerText}`;
}

function push(ctx: Context, rule: RuleId, path: string, severity: Severity, message: string): void {
  ctx.findings.push(finding(rule, ctx.job, path, ctx.direction, severity, message));
}

/**
 * Reports a part JSON Schema cannot describe: safe when it is unchanged (the whole version hashes the same, or both
 * versions carry the same notes, part hashes included, at its path), breaking otherwise.
 */
function unrepresentable(ctx: Context, path: string, notes: readonly Unrepresentable[]): void {
  const what = notes.map((n) => (ctx.part === 'result' ? n.reason : `${n.side === 'output' ? 'written' : 'read'}: ${n.reason}`)).join('; ');
  const at = (list: readonly Unrepresentable[]): string => canonicalJson(list.filter((n) => n.path === path || (path === '' && n.path.startsWith('#'))));
  const unchanged = ctx.sameHash || at(ctx.writerNotes) === at(ctx.readerNotes);
  push(ctx, 'unrepresentable', path, unchanged ? 'safe' : 'breaking', `${what} (${unchanged ? 'unchanged since the lock' : 'changed, not verified'})`);
}

// ---------------------------------------------------------------------------------------------------------------
// Nodes

/** A JSON Schema node with its `$ref`s followed, from the root it belongs to. */
function resolveRef(node: JsonSchema, root: JsonSchema): JsonSchema {
  let current = node;
  for (let i = 0; i < 32 && typeof current.$ref === 'string'; i++) {
    const ref = current.$ref;
    const { $ref: _ignored, ...rest } = current;
    let target: unknown;
    if (ref === '#') target = root;
    else if (ref.startsWith('#/')) {
      target = root;
      for (const part of ref.slice(2).split('/')) target = (target as Record<string, unknown> | undefined)?.[decodeURIComponent(part.replace(/~1/g, '/').replace(/~0/g, '~'))];
    }
    if (typeof target !== 'object' || target === null) return current;
    current = { ...(target as JsonSchema), ...rest };
  }
  return current;
}

const TYPES = ['null', 'boolean', 'integer', 'number', 'string', 'array', 'object'] as const;
type TypeName = (typeof TYPES)[number];

/** Keywords that restrict values of some type (a node without any accepts everything). */
const ANNOTATIONS = new Set(['$schema', '$id', '$comment', 'title', 'description', 'default', 'examples', 'deprecated', 'readOnly', 'writeOnly', '$defs', 'definitions', 'id']);

/** Whether a node accepts every value. */
function isAny(node: JsonSchema): boolean {
  return Object.keys(node).every((k) => ANNOTATIONS.has(k));
}

/** Whether a node accepts no value (`z.never()`: `{ not: {} }`). */
function isNever(node: JsonSchema): boolean {
  return typeof node.not === 'object' && node.not !== null && isAny(node.not as JsonSchema);
}

/** A node split into one branch per alternative: `anyOf`/`oneOf` members and each type of a `type` list. */
function branches(node: JsonSchema, root: JsonSchema, depth = 0): JsonSchema[] {
  const resolved = resolveRef(node, root);
  const union = (resolved.anyOf ?? resolved.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(union) && depth < 16) {
    const { anyOf: _a, oneOf: _o, ...rest } = resolved;
    return union.flatMap((member) => branches({ ...rest, ...resolveRef(member, root) }, root, depth + 1));
  }
  if (Array.isArray(resolved.type)) {
    return (resolved.type as string[]).map((type) => ({ ...resolved, type }));
  }
  // An enum or const of mixed types: one branch per value's type.
  const values = valuesOf(resolved);
  if (values !== undefined && resolved.type === undefined) {
    const byType = new Map<string, unknown[]>();
    for (const v of values) byType.set(typeOfValue(v), [...(byType.get(typeOfValue(v)) ?? []), v]);
    if (byType.size > 1) return [...byType].map(([type, vals]) => ({ type, enum: vals }));
    const only = [...byType.keys()][0];
    if (only !== undefined) return [{ ...resolved, type: only }];
  }
  return [resolved];
}

function typeOfValue(v: unknown): TypeName {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  if (typeof v === 'object') return 'object';
  return typeof v === 'boolean' ? 'boolean' : 'string';
}

/** The values an `enum` or `const` allows, or undefined. */
function valuesOf(node: JsonSchema): readonly unknown[] | undefined {
  if ('const' in node) return [node.const];
  return Array.isArray(node.enum) ? (node.enum as unknown[]) : undefined;
}

function typeOf(node: JsonSchema): TypeName | undefined {
  const t = node.type;
  if (typeof t === 'string' && (TYPES as readonly string[]).includes(t)) return t as TypeName;
  if (node.properties !== undefined || node.additionalProperties !== undefined) return 'object';
  if (node.items !== undefined || node.prefixItems !== undefined) return 'array';
  return undefined;
}

/** Whether values of type `w` are all of type `r`. */
function typeWithin(w: TypeName, r: TypeName): boolean {
  return w === r || (w === 'integer' && r === 'number');
}

function show(node: JsonSchema): string {
  const values = valuesOf(node);
  if (values !== undefined) return values.map((v) => JSON.stringify(v)).join(' | ');
  if (isAny(node)) return 'any';
  const type = typeOf(node);
  if (type === 'object' && typeof node.properties === 'object' && node.properties !== null) {
    // A discriminated union's member, by its literal fields: { kind: "a" }.
    const literals = Object.entries(node.properties as Record<string, JsonSchema>).filter(([, p]) => 'const' in p);
    if (literals.length > 0) return `{ ${literals.map(([k, p]) => `${k}: ${JSON.stringify(p.const)}`).join(', ')} }`;
  }
  return type ?? 'a schema';
}

/** Compares what `writer` may produce with what `reader` accepts, at `path`. */
function compareNodes(ctx: Context, writerNode: JsonSchema, readerNode: JsonSchema, path: string): void {
  const notes = ctx.notes.get(path);
  if (notes !== undefined) {
    unrepresentable(ctx, path, notes);
    return;
  }
  const writer = resolveRef(writerNode, ctx.writerRoot);
  const reader = resolveRef(readerNode, ctx.readerRoot);
  if (typeof writerNode.$ref === 'string' && typeof readerNode.$ref === 'string') {
    const key = `${writerNode.$ref}|${readerNode.$ref}`;
    if (ctx.refPairs.has(key)) return;
    ctx.refPairs.add(key);
  }
  if (isNever(writer) || isAny(reader)) {
    if (isAny(reader) && !isAny(writer) && !isNever(writer)) report(ctx, path, 'safe', false, 'type-narrowed', 'type-widened', change(ctx, show(writer), 'any'));
    return;
  }
  if (isAny(writer)) {
    report(ctx, path, 'breaking', true, 'type-narrowed', 'type-widened', change(ctx, 'any', show(reader)));
    return;
  }
  if (isNever(reader)) {
    push(ctx, 'type-changed', path, 'breaking', change(ctx, show(writer), 'never'));
    return;
  }
  if (Array.isArray(writer.allOf) || Array.isArray(reader.allOf)) {
    compareIntersections(ctx, writer, reader, path);
    return;
  }
  const ws = branches(writer, ctx.writerRoot);
  const rs = branches(reader, ctx.readerRoot);
  // Null first: its own rule.
  const wNull = ws.some((b) => typeOf(b) === 'null');
  const rNull = rs.some((b) => typeOf(b) === 'null');
  if (wNull && !rNull) report(ctx, path, 'breaking', true, 'nullable-removed', 'nullable-added', 'null');
  if (!wNull && rNull) report(ctx, path, 'safe', false, 'nullable-removed', 'nullable-added', 'null');
  const wRest = ws.filter((b) => typeOf(b) !== 'null');
  const rRest = rs.filter((b) => typeOf(b) !== 'null');
  if (rRest.some(isAny)) {
    if (!wRest.some(isAny) && wRest.length > 0) report(ctx, path, 'safe', false, 'type-narrowed', 'type-widened', change(ctx, wRest.map(show).join(' | '), 'any'));
    return;
  }
  if (wRest.length === 0) return;
  if (rRest.length === 0) {
    push(ctx, 'type-changed', path, 'breaking', change(ctx, wRest.map(show).join(' | '), 'null'));
    return;
  }
  if (wRest.length === 1 && rRest.length === 1) {
    compareBranch(ctx, wRest[0] as JsonSchema, rRest[0] as JsonSchema, path);
    return;
  }
  compareUnions(ctx, wRest, rRest, path);
}

/** Each writer branch must be accepted by some reader branch; reader branches no writer branch meets are safe additions. */
function compareUnions(ctx: Context, ws: readonly JsonSchema[], rs: readonly JsonSchema[], path: string): void {
  const used = new Set<number>();
  const notAccepted = (w: JsonSchema): void => {
    const readerHas = rs.map(show).join(' | ');
    if (valuesOf(w) !== undefined) report(ctx, path, 'breaking', true, 'enum-value-removed', 'enum-value-added', `${show(w)} not in ${readerHas}`);
    else report(ctx, path, 'breaking', true, 'type-narrowed', 'type-widened', `union member ${show(w)} not accepted (reader: ${readerHas})`);
  };
  for (const w of ws) {
    const candidates = rs.map((r, i) => ({ r, i })).filter(({ r }) => compatibleTypes(w, r));
    let best: { findings: Finding[]; i: number } | undefined;
    for (const { r, i } of candidates) {
      const trial = { ...ctx, findings: [] as Finding[], refPairs: new Set(ctx.refPairs) };
      compareBranch(trial, w, r, path);
      const breaking = trial.findings.filter((f) => f.severity === 'breaking').length;
      if (best === undefined || breaking < best.findings.filter((f) => f.severity === 'breaking').length) best = { findings: trial.findings, i };
      if (breaking === 0) break;
    }
    if (best === undefined) {
      notAccepted(w);
      continue;
    }
    used.add(best.i);
    // No member fits: the details against the nearest one would mislead (a discriminated union's new member).
    if (candidates.length > 1 && best.findings.some((f) => f.severity === 'breaking')) notAccepted(w);
    else ctx.findings.push(...best.findings);
  }
  for (const [i, r] of rs.entries()) {
    if (used.has(i)) continue;
    if (valuesOf(r) !== undefined) report(ctx, path, 'safe', false, 'enum-value-removed', 'enum-value-added', `${show(r)} is accepted too`);
    else report(ctx, path, 'safe', false, 'type-narrowed', 'type-widened', `union member ${show(r)} is accepted too`);
  }
}

/** Whether a writer branch and a reader branch are of types that may share values. */
function compatibleTypes(w: JsonSchema, r: JsonSchema): boolean {
  const wt = typeOf(w);
  const rt = typeOf(r);
  return wt === undefined || rt === undefined || typeWithin(wt, rt) || (wt === 'number' && rt === 'integer');
}

/** `allOf`: equal intersections are compatible; otherwise each part of the reader's must accept the writer. */
function compareIntersections(ctx: Context, writer: JsonSchema, reader: JsonSchema, path: string): void {
  if (canonicalJson(writer) === canonicalJson(reader)) return;
  if (Array.isArray(reader.allOf)) {
    const { allOf, ...rest } = reader;
    for (const part of [rest, ...(allOf as JsonSchema[])]) if (!isAny(part)) compareNodes(ctx, writer, part, path);
    return;
  }
  const { allOf, ...rest } = writer;
  // A writer intersection: some part alone must fit the reader (sufficient, not necessary).
  for (const part of [rest, ...(allOf as JsonSchema[])]) {
    if (isAny(part)) continue;
    const trial = { ...ctx, findings: [] as Finding[], refPairs: new Set(ctx.refPairs) };
    compareNodes(trial, part, reader, path);
    if (trial.findings.every((f) => f.severity === 'safe')) return;
  }
  push(ctx, 'cannot-compare', path, 'breaking', 'an intersection (allOf) changed');
}

/** Compares one writer branch with one reader branch (neither a union). */
function compareBranch(ctx: Context, w: JsonSchema, r: JsonSchema, path: string): void {
  const wt = typeOf(w);
  const rt = typeOf(r);
  const wValues = valuesOf(w);
  const rValues = valuesOf(r);
  if (wt !== undefined && rt !== undefined && !typeWithin(wt, rt)) {
    if (wt === 'number' && rt === 'integer') {
      report(ctx, path, 'breaking', true, 'type-narrowed', 'type-widened', change(ctx, 'number', 'integer'));
    } else {
      push(ctx, 'type-changed', path, 'breaking', change(ctx, show(w), show(r)));
      return;
    }
  } else if (wt === 'integer' && rt === 'number') {
    report(ctx, path, 'safe', false, 'type-narrowed', 'type-widened', change(ctx, 'integer', 'number'));
  }
  // Enumerations and literals.
  if (rValues !== undefined) {
    if (wValues === undefined) {
      report(ctx, path, 'breaking', true, 'type-narrowed', 'type-widened', change(ctx, show(w), show(r)));
      return;
    }
    const rSet = new Set(rValues.map((v) => canonicalJson(v)));
    const wSet = new Set(wValues.map((v) => canonicalJson(v)));
    const missing = wValues.filter((v) => !rSet.has(canonicalJson(v)));
    const extra = rValues.filter((v) => !wSet.has(canonicalJson(v)));
    if (missing.length > 0) report(ctx, path, 'breaking', true, 'enum-value-removed', 'enum-value-added', missing.map((v) => JSON.stringify(v)).join(', '));
    if (extra.length > 0) report(ctx, path, 'safe', false, 'enum-value-removed', 'enum-value-added', extra.map((v) => JSON.stringify(v)).join(', '));
    return;
  }
  if (wValues !== undefined) {
    // A writer enum against a plain type: the values must pass the reader's checks.
    const failing = wValues.filter((v) => !valueMeets(v, r));
    if (failing.length > 0) report(ctx, path, 'breaking', true, 'enum-value-removed', 'enum-value-added', `${failing.map((v) => JSON.stringify(v)).join(', ')} not accepted by ${show(r)}`);
    else report(ctx, path, 'safe', false, 'type-narrowed', 'type-widened', change(ctx, show(w), show(r)));
    return;
  }
  const type = rt ?? wt;
  if (type === 'number' || type === 'integer') compareNumbers(ctx, w, r, path);
  else if (type === 'string') compareStrings(ctx, w, r, path);
  else if (type === 'array') compareArrays(ctx, w, r, path);
  else if (type === 'object') compareObjects(ctx, w, r, path);
}

/** Whether a literal value meets the simple checks of a reader branch (type, bounds, length). */
function valueMeets(v: unknown, r: JsonSchema): boolean {
  const t = typeOf(r);
  if (t !== undefined && !typeWithin(typeOfValue(v), t)) return false;
  if (typeof v === 'number') {
    const lo = lower(r);
    const hi = upper(r);
    if (lo !== undefined && (v < lo.value || (lo.exclusive && v === lo.value))) return false;
    if (hi !== undefined && (v > hi.value || (hi.exclusive && v === hi.value))) return false;
  }
  if (typeof v === 'string') {
    if (typeof r.minLength === 'number' && v.length < r.minLength) return false;
    if (typeof r.maxLength === 'number' && v.length > r.maxLength) return false;
    if (typeof r.pattern === 'string') {
      try {
        if (!new RegExp(r.pattern, 'u').test(v)) return false;
      } catch {
        return false;
      }
    }
    if (typeof r.format === 'string') return false;
  }
  return t !== 'object' && t !== 'array';
}

interface Bound {
  readonly value: number;
  readonly exclusive: boolean;
}

const SAFE = Number.MAX_SAFE_INTEGER;

/** The effective lower bound (`minimum`/`exclusiveMinimum`), ignoring the safe-integer range zod adds to integers. */
function lower(node: JsonSchema): Bound | undefined {
  const candidates: Bound[] = [];
  if (typeof node.minimum === 'number' && !(node.type === 'integer' && node.minimum === -SAFE)) candidates.push({ value: node.minimum, exclusive: false });
  if (typeof node.exclusiveMinimum === 'number') candidates.push({ value: node.exclusiveMinimum, exclusive: true });
  return candidates.sort((a, b) => b.value - a.value || Number(b.exclusive) - Number(a.exclusive))[0];
}

function upper(node: JsonSchema): Bound | undefined {
  const candidates: Bound[] = [];
  if (typeof node.maximum === 'number' && !(node.type === 'integer' && node.maximum === SAFE)) candidates.push({ value: node.maximum, exclusive: false });
  if (typeof node.exclusiveMaximum === 'number') candidates.push({ value: node.exclusiveMaximum, exclusive: true });
  return candidates.sort((a, b) => a.value - b.value || Number(b.exclusive) - Number(a.exclusive))[0];
}

function showBound(b: Bound | undefined, side: 'min' | 'max'): string {
  if (b === undefined) return 'none';
  return `${side === 'min' ? (b.exclusive ? '>' : '≥') : b.exclusive ? '<' : '≤'} ${b.value}`;
}

/** Whether the reader's lower bound `r` admits everything above the writer's `w`. */
function lowerWithin(w: Bound | undefined, r: Bound | undefined): boolean {
  if (r === undefined) return true;
  if (w === undefined) return false;
  return w.value > r.value || (w.value === r.value && (w.exclusive || !r.exclusive));
}

function upperWithin(w: Bound | undefined, r: Bound | undefined): boolean {
  if (r === undefined) return true;
  if (w === undefined) return false;
  return w.value < r.value || (w.value === r.value && (w.exclusive || !r.exclusive));
}

/** Reports a bound: breaking when the reader's is tighter, safe when looser. */
function compareBound(ctx: Context, path: string, name: string, wb: Bound | undefined, rb: Bound | undefined, side: 'min' | 'max'): void {
  const within = side === 'min' ? lowerWithin : upperWithin;
  const message = `${name} ${change(ctx, showBound(wb, side), showBound(rb, side))}`;
  if (!within(wb, rb)) report(ctx, path, 'breaking', true, 'bound-tightened', 'bound-loosened', message);
  else if (!within(rb, wb)) report(ctx, path, 'safe', false, 'bound-tightened', 'bound-loosened', message);
}

function inclusive(node: JsonSchema, key: string): Bound | undefined {
  return typeof node[key] === 'number' ? { value: node[key], exclusive: false } : undefined;
}

function compareNumbers(ctx: Context, w: JsonSchema, r: JsonSchema, path: string): void {
  compareBound(ctx, path, 'minimum', lower(w), lower(r), 'min');
  compareBound(ctx, path, 'maximum', upper(w), upper(r), 'max');
  const wm = typeof w.multipleOf === 'number' ? w.multipleOf : undefined;
  const rm = typeof r.multipleOf === 'number' ? r.multipleOf : undefined;
  const message = `multipleOf ${change(ctx, String(wm ?? 'none'), String(rm ?? 'none'))}`;
  if (rm !== undefined && (wm === undefined || !isMultiple(wm, rm))) report(ctx, path, 'breaking', true, 'bound-tightened', 'bound-loosened', message);
  else if (wm !== undefined && (rm === undefined || !isMultiple(rm, wm))) report(ctx, path, 'safe', false, 'bound-tightened', 'bound-loosened', message);
}

function isMultiple(a: number, of: number): boolean {
  const q = a / of;
  return Math.abs(q - Math.round(q)) < 1e-9;
}

function compareStrings(ctx: Context, w: JsonSchema, r: JsonSchema, path: string): void {
  compareBound(ctx, path, 'minLength', inclusive(w, 'minLength'), inclusive(r, 'minLength'), 'min');
  compareBound(ctx, path, 'maxLength', inclusive(w, 'maxLength'), inclusive(r, 'maxLength'), 'max');
  const wf = typeof w.format === 'string' ? w.format : undefined;
  const rf = typeof r.format === 'string' ? r.format : undefined;
  const fromTo = (a: string | undefined, b: string | undefined): string => change(ctx, a ?? 'none', b ?? 'none');
  if (rf !== undefined && wf !== rf) {
    report(ctx, path, 'breaking', true, 'format-changed', 'format-removed', `format ${fromTo(wf, rf)}`);
    return;
  }
  if (wf !== undefined && rf === undefined) {
    report(ctx, path, 'safe', false, 'format-changed', 'format-removed', `format ${fromTo(wf, rf)}`);
    return;
  }
  const wp = typeof w.pattern === 'string' ? w.pattern : undefined;
  const rp = typeof r.pattern === 'string' ? r.pattern : undefined;
  if (rp !== undefined && wp !== rp) report(ctx, path, 'breaking', true, 'format-changed', 'format-removed', `pattern ${fromTo(wp, rp)}`);
  else if (wp !== undefined && rp === undefined) report(ctx, path, 'safe', false, 'format-changed', 'format-removed', `pattern ${fromTo(wp, rp)}`);
}

/** The schema of the array's item at `index`, or of its further items. */
function itemAt(node: JsonSchema, index: number): JsonSchema | false {
  const prefix = Array.isArray(node.prefixItems) ? (node.prefixItems as JsonSchema[]) : [];
  if (index < prefix.length) return prefix[index] as JsonSchema;
  if (node.items === false) return false;
  return typeof node.items === 'object' && node.items !== null ? (node.items as JsonSchema) : {};
}

function compareArrays(ctx: Context, w: JsonSchema, r: JsonSchema, path: string): void {
  compareBound(ctx, path, 'minItems', inclusive(w, 'minItems'), inclusive(r, 'minItems'), 'min');
  compareBound(ctx, path, 'maxItems', inclusive(w, 'maxItems'), inclusive(r, 'maxItems'), 'max');
  const wPrefix = Array.isArray(w.prefixItems) ? w.prefixItems.length : 0;
  const rPrefix = Array.isArray(r.prefixItems) ? r.prefixItems.length : 0;
  const maxItems = typeof w.maxItems === 'number' ? w.maxItems : Infinity;
  for (let i = 0; i <= Math.max(wPrefix, rPrefix); i++) {
    const tail = i === Math.max(wPrefix, rPrefix);
    if (!tail && i >= maxItems) break;
    const wi = itemAt(w, i);
    const ri = itemAt(r, i);
    const at = tail ? `${path}[]` : `${path}[${i}]`;
    if (wi === false) continue;
    if (ri === false) {
      if (i < maxItems && !(tail && typeof r.maxItems === 'number')) report(ctx, at, 'breaking', true, 'bound-tightened', 'bound-loosened', 'no further items accepted');
      continue;
    }
    compareNodes(ctx, wi, ri, at);
  }
}

function compareObjects(ctx: Context, w: JsonSchema, r: JsonSchema, path: string): void {
  const wProps = (w.properties ?? {}) as Record<string, JsonSchema>;
  const rProps = (r.properties ?? {}) as Record<string, JsonSchema>;
  const wReq = new Set(Array.isArray(w.required) ? (w.required as string[]) : []);
  const rReq = new Set(Array.isArray(r.required) ? (r.required as string[]) : []);
  const at = (k: string): string => (path === '' ? k : `${path}.${k}`);
  const wExtra = w.additionalProperties;
  const rExtra = r.additionalProperties;
  const rStrict = rExtra === false;
  const wLoose = wExtra === undefined || wExtra === true || (typeof wExtra === 'object' && wExtra !== null);
  const keys = [...new Set([...Object.keys(wProps), ...Object.keys(rProps)])].sort();
  for (const k of keys) {
    const wp = wProps[k];
    const rp = rProps[k];
    if (rp !== undefined && rReq.has(k) && !wReq.has(k)) {
      if (wp !== undefined) {
        report(ctx, at(k), 'breaking', true, 'field-made-required', 'field-made-optional', `${k} ${change(ctx, 'optional', 'required')}`);
      } else report(ctx, at(k), 'breaking', true, 'field-added-required', 'field-removed', readerIsNew(ctx) ? `${k} is new and required` : `${k} is gone; old ${readers(ctx)} require it`);
    }
    if (wp !== undefined && rp !== undefined) {
      if (wReq.has(k) && !rReq.has(k)) {
        report(ctx, at(k), 'safe', false, 'field-made-required', 'field-made-optional', `${k} ${change(ctx, 'required', 'optional')}`);
      }
      compareNodes(ctx, wp, rp, at(k));
    } else if (wp !== undefined) {
      // A field the writer writes and the reader does not declare.
      if (rStrict) push(ctx, 'unknown-keys-rejected', at(k), 'breaking', `${k} is written but the reader rejects unknown keys`);
      else if (typeof rExtra === 'object' && rExtra !== null && !isAny(rExtra as JsonSchema)) compareNodes(ctx, wp, rExtra as JsonSchema, at(k));
      else if (readerIsNew(ctx)) push(ctx, 'field-removed', at(k), 'safe', `${k} is gone; new ${readers(ctx)} ignore it in stored ${ctx.part === 'result' ? 'results' : 'jobs'}`);
      else push(ctx, wReq.has(k) ? 'field-added-required' : 'field-added-optional', at(k), 'safe', `${k} is new; old ${readers(ctx)} ignore it`);
    } else if (rp !== undefined && !rReq.has(k)) {
      if (readerIsNew(ctx)) push(ctx, 'field-added-optional', at(k), 'safe', `${k} is new and optional`);
      else push(ctx, 'field-removed', at(k), 'safe', `${k} is gone; old ${readers(ctx)} have it optional`);
      // A loose writer (z.looseObject, .catchall, a record) may still write the key, with any value it lets through.
      if (wLoose) compareNodes(ctx, wExtra === undefined || wExtra === true ? {} : (wExtra as JsonSchema), rp, at(k));
    }
  }
  // Undeclared keys: the writer may write keys of its own (a loose object or a record).
  if (rStrict && wLoose && wExtra !== undefined && !(typeof wExtra === 'object' && wExtra !== null && isNever(wExtra as JsonSchema))) {
    push(ctx, 'unknown-keys-rejected', path, 'breaking', 'the writer may write undeclared keys; the reader rejects them');
  } else if (typeof wExtra === 'object' && wExtra !== null && typeof rExtra === 'object' && rExtra !== null) {
    compareNodes(ctx, wExtra as JsonSchema, rExtra as JsonSchema, `${path}{}`);
  } else if (typeof rExtra === 'object' && rExtra !== null && !isAny(rExtra as JsonSchema) && wExtra === undefined && Object.keys(wProps).length === 0) {
    report(ctx, `${path}{}`, 'breaking', true, 'type-narrowed', 'type-widened', change(ctx, 'any', show(rExtra as JsonSchema)));
  }
  const wNames = w.propertyNames as JsonSchema | undefined;
  const rNames = r.propertyNames as JsonSchema | undefined;
  if (rNames !== undefined && !isAny(rNames)) compareNodes(ctx, wNames ?? { type: 'string' }, rNames, `${path}{key}`);
}

// ---------------------------------------------------------------------------------------------------------------

function last(job: LockedJob): LockedVersion {
  const v = job.versions[job.versions.length - 1];
  if (v === undefined) throw new Error('internal: a locked job without versions');
  return v;
}

/** Whether two jobs look the same but for their name: a rename. */
function sameContract(a: LockedJob, b: LockedJob | undefined): boolean {
  return b !== undefined && a.queue === b.queue && last(a).hash === last(b).hash;
}

function dedupe(findings: readonly Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.rule}|${f.path}|${f.direction}|${f.severity}|${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
