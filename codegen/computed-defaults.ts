/**
 * Defaults computed by a function (`.default(() => new Date().toISOString())`, `.default(() => randomUUID())`,
 * `.prefault(fn)`, `.catch(fn)`) are not evaluated into the output: their value changes from run to run, so writing
 * it into jobs.manifest.json made `codegen --check` fail right after generating. Such a default is left out of the
 * JSON Schema and marked with a `$comment` ({@link COMPUTED_DEFAULT_COMMENT}); a constant default is written as
 * before. Runs in the worker thread of load-worker.ts, where the schema's zod objects are.
 *
 * How a computed default is recognized: zod keeps `.default(value)` as a getter on the schema's definition that
 * calls `value` when it is a function and copies it otherwise; the getter's closure holds what was passed, and the
 * V8 inspector (the only way to read a closure) says whether it is a function. A constant `.catch(value)` is a thunk
 * zod tags with `~constantCatch`; any other catch function is the user's.
 */
import { Session } from 'node:inspector';

/** What the manifest says instead of a computed default's value. */
export const COMPUTED_DEFAULT_COMMENT = 'default: computed by a function each time the payload is parsed; not written here';

/** A zod schema as far as this module looks at it. */
interface ZodNode {
  readonly _zod: { readonly def: Record<string, unknown> & { readonly type?: unknown } };
}

/** A value no schema writes as its default: where a computed default stood while the JSON Schema was generated. */
const MARKER = '\u0000jobcraft:computed-default\u0000';

let session: Session | undefined;
const GROUP = 'jobcraft-codegen';

/** Calls an inspector method; a session on the own thread answers synchronously. */
function post<T>(method: string, params: Record<string, unknown>): T {
  if (session === undefined) {
    session = new Session();
    session.connect();
  }
  let result: T | undefined;
  let error: Error | null = null;
  session.post(method, params, (err, res) => {
    error = err;
    result = res as T;
  });
  if (error !== null) throw error;
  if (result === undefined) throw new Error(`inspector method ${method} did not answer synchronously`);
  return result;
}

interface RemoteProperty {
  readonly name: string;
  readonly value?: { readonly type: string; readonly objectId?: string; readonly description?: string };
}

/** Whether the innermost closure of `fn` holds a function (for zod's default getter: whether the default is one). */
function closureHoldsFunction(fn: () => unknown): boolean {
  const key = '__jobcraftProbe';
  (globalThis as Record<string, unknown>)[key] = fn;
  try {
    const { result } = post<{ result: { objectId?: string } }>('Runtime.evaluate', { expression: `globalThis.${key}`, objectGroup: GROUP });
    if (result.objectId === undefined) return false;
    const own = post<{ internalProperties?: RemoteProperty[] }>('Runtime.getProperties', { objectId: result.objectId, ownProperties: true, objectGroup: GROUP });
    const scopes = own.internalProperties?.find((p) => p.name === '[[Scopes]]')?.value?.objectId;
    if (scopes === undefined) return false;
    const list = post<{ result: RemoteProperty[] }>('Runtime.getProperties', { objectId: scopes, ownProperties: true, objectGroup: GROUP });
    const innermost = list.result.find((p) => p.name === '0')?.value;
    if (innermost?.objectId === undefined || !innermost.description?.startsWith('Closure')) return false;
    const vars = post<{ result: RemoteProperty[] }>('Runtime.getProperties', { objectId: innermost.objectId, ownProperties: true, objectGroup: GROUP });
    return vars.result.some((v) => v.value?.type === 'function');
  } finally {
    delete (globalThis as Record<string, unknown>)[key];
    post('Runtime.releaseObjectGroup', { objectGroup: GROUP });
  }
}

/**
 * What {@link isComputedDefault} found for each default getter: a job's payload is described on its input and its
 * output side, and both meet the same defaults.
 */
const seen = new WeakMap<object, boolean>();

/** Whether a `default`, `prefault` or `catch` schema computes its value with a function. */
export function isComputedDefault(node: ZodNode): boolean {
  const def = node._zod.def;
  if (def.type === 'catch') {
    const catchValue = def.catchValue as ((ctx: unknown) => unknown) & { '~constantCatch'?: boolean };
    return typeof catchValue === 'function' && catchValue['~constantCatch'] !== true;
  }
  if (def.type !== 'default' && def.type !== 'prefault') return false;
  const getter = Object.getOwnPropertyDescriptor(def, 'defaultValue')?.get;
  if (getter === undefined) return false;
  const known = seen.get(getter);
  if (known !== undefined) return known;
  let computed: boolean;
  try {
    computed = closureHoldsFunction(getter);
  } catch {
    // Without the inspector (a runtime built without it), the value is compared between two evaluations.
    computed = JSON.stringify(getter.call(def)) !== JSON.stringify(getter.call(def));
  }
  seen.set(getter, computed);
  return computed;
}

/** The default-like schemas (`default`, `prefault`, `catch`) an `override` hook of toJSONSchema saw. */
export function defaultLike(node: unknown): node is ZodNode {
  const type = (node as Partial<ZodNode> | undefined)?._zod?.def?.type;
  return type === 'default' || type === 'prefault' || type === 'catch';
}

/**
 * Runs `generate` with every computed default in `nodes` replaced by a marker, then turns each marker in the JSON
 * Schema produced into the {@link COMPUTED_DEFAULT_COMMENT}. The definitions are restored afterwards.
 */
export function withoutComputedDefaults<T extends Record<string, unknown>>(nodes: readonly ZodNode[], generate: () => T): T {
  const restore: (() => void)[] = [];
  for (const node of nodes) {
    const def = node._zod.def;
    const key = def.type === 'catch' ? 'catchValue' : 'defaultValue';
    const original = Object.getOwnPropertyDescriptor(def, key);
    if (original === undefined) continue;
    const replacement = def.type === 'catch' ? { value: () => MARKER } : { get: () => MARKER };
    Object.defineProperty(def, key, { ...replacement, configurable: true, enumerable: original.enumerable ?? true });
    restore.push(() => Object.defineProperty(def, key, original));
  }
  try {
    const json = generate();
    unmark(json);
    return json;
  } finally {
    for (const r of restore) r();
  }
}

function unmark(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) unmark(item);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const record = node as Record<string, unknown>;
  if (record.default === MARKER) {
    delete record.default;
    record.$comment = COMPUTED_DEFAULT_COMMENT;
  }
  for (const value of Object.values(record)) unmark(value);
}
