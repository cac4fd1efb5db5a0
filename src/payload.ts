import * as z from 'zod';
import { JobDefinitionError, JobValidationError, type PayloadIssue } from './errors.js';
import { ENVELOPE_OVERHEAD_BYTES, MAX_PAYLOAD_DEPTH, fitsBytes, formatBytes } from './bounds.js';

/** Default limit on the size of one serialized payload. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 512 * 1024;

/**
 * Default limit of a worker on the payload it parses: a guard for its event loop (checking and parsing 16 MiB of
 * JSON blocks it for some hundreds of milliseconds, well inside a lease), not a policy. Far above the client's default so that a client with a
 * raised limit does not need every worker reconfigured.
 */
export const DEFAULT_WORKER_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

/**
 * The stored form of a job (the value in the queue's `jobs` hash). Field names are short because every waiting job
 * carries them; `docs/redis-layout.md` documents them.
 */
export interface Envelope {
  /** Job name. */
  readonly n: string;
  /** Enqueue time, ms since the epoch. */
  readonly t: number;
  /** Payload, in its schema's input form. */
  readonly p: unknown;
  /** Total attempts, when the enqueue call overrode the job type's. */
  readonly a?: number;
  /** Priority, when not 0 (the Lua scripts read it to requeue the job at the right level). */
  readonly r?: number;
  /** Unique-lock key suffix, for unique jobs (the worker releases the lock when the job ends). */
  readonly u?: string;
  /**
   * The payload version `p` was written with (docs/contracts.md, "Versioned payloads"), when not 1: absent means 1,
   * so jobs stored before their job had versions read as version 1.
   */
  readonly v?: number;
  /** When the job was first due, ms since the epoch: set only for a delayed enqueue (the wait-time metric counts from it). */
  readonly d?: number;
  /**
   * The producer's W3C trace context, `traceparent` or `traceparent|tracestate` (set only while tracing is on).
   * Untrusted at dequeue: read through {@link parseTraceContext} (bounded, checked; anything else is ignored).
   */
  readonly tc?: string;
  /** The rest of the chain this job is a step of (src/chain.ts `ChainLink`; unchecked here: read by `parseChainLink`). */
  readonly ch?: unknown;
  /** The fan-in this job is a child of (src/fan-in.ts `FaninLink`; unchecked here: read by `parseFaninLink`). */
  readonly fi?: unknown;
}

/** Longest stored trace context: a traceparent (55) plus `|` and a tracestate (at most 512 by the W3C spec). */
export const TRACE_CONTEXT_MAX = 55 + 1 + 512;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const TRACESTATE = /^[\x20-\x7e]*$/;

/** A trace context read back from a stored job. */
export interface StoredTraceContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
  readonly traceState: string | undefined;
}

/**
 * Checks a stored trace context (attacker-controlled text: at most {@link TRACE_CONTEXT_MAX} characters, version 00
 * traceparent, non-zero ids, printable ASCII tracestate). Undefined when absent or not valid: the job then runs with
 * no parent.
 */
export function parseTraceContext(tc: unknown): StoredTraceContext | undefined {
  if (typeof tc !== 'string' || tc.length > TRACE_CONTEXT_MAX) return undefined;
  const bar = tc.indexOf('|');
  const m = TRACEPARENT.exec(bar < 0 ? tc : tc.slice(0, bar));
  if (m === null) return undefined;
  const [, traceId, spanId, flags] = m as unknown as [string, string, string, string];
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  const state = bar < 0 ? undefined : tc.slice(bar + 1);
  if (state !== undefined && !TRACESTATE.test(state)) return undefined;
  return { traceId, spanId, traceFlags: parseInt(flags, 16), traceState: state === '' ? undefined : state };
}

function kindOf(value: object): string | undefined {
  if (value instanceof Date) return 'a Date (send an ISO string, e.g. date.toISOString(), and use z.coerce.date() or z.iso.datetime())';
  if (value instanceof Map) return 'a Map (send a plain object or an array of pairs)';
  if (value instanceof Set) return 'a Set (send an array)';
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return 'binary data (send base64 text)';
  if (value instanceof RegExp) return 'a RegExp';
  if (value instanceof Error) return 'an Error';
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return 'an object with a toJSON method';
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null && !Array.isArray(value)) return 'a class instance';
  return undefined;
}

/** A value being checked by {@link jsonIssues}, with the way back to the root (paths are built only for issues). */
interface Visit {
  readonly value: unknown;
  readonly parent: Visit | undefined;
  readonly key: string | number | undefined;
  /** Nesting level of the arrays and objects around the value (the root's own level is 1 when it is one). */
  readonly depth: number;
  /** Set on the marker pushed after an object's children: leaving it, for cycle detection. */
  readonly leave?: object;
}

function pathOf(visit: Visit): (string | number)[] {
  const path: (string | number)[] = [];
  for (let v: Visit | undefined = visit; v !== undefined && v.key !== undefined; v = v.parent) path.push(v.key);
  return path.reverse();
}

/**
 * Finds every value in a payload that would not come back the same after `JSON.stringify` + `JSON.parse`:
 * dates, big integers, maps, sets, functions, symbols, non-finite numbers, `undefined` inside arrays, class
 * instances and cycles; and nesting deeper than {@link MAX_PAYLOAD_DEPTH} levels (then it stops at once, before
 * anything recursive — `JSON.stringify`, zod — sees the payload). Iterative, so no payload can overflow the stack.
 */
export function jsonIssues(value: unknown): PayloadIssue[] {
  const issues: PayloadIssue[] = [];
  const ancestors = new Set<object>();
  const stack: Visit[] = [{ value, parent: undefined, key: undefined, depth: 1 }];
  while (stack.length > 0 && issues.length < 20) {
    const visit = stack.pop() as Visit;
    if (visit.leave !== undefined) {
      ancestors.delete(visit.leave);
      continue;
    }
    const v = visit.value;
    switch (typeof v) {
      case 'string':
      case 'boolean':
        continue;
      case 'number':
        if (!Number.isFinite(v)) issues.push({ path: pathOf(visit), code: 'not_json', message: `${String(v)} cannot be stored as JSON (it would become null)` });
        continue;
      case 'bigint':
        issues.push({ path: pathOf(visit), code: 'not_json', message: 'a BigInt cannot be stored as JSON (send it as a string)' });
        continue;
      case 'function':
      case 'symbol':
        issues.push({ path: pathOf(visit), code: 'not_json', message: `a ${typeof v} cannot be stored as JSON` });
        continue;
      case 'undefined':
        issues.push({ path: pathOf(visit), code: 'not_json', message: 'undefined inside an array would become null in JSON' });
        continue;
      case 'object': {
        if (v === null) continue;
        if (ancestors.has(v)) {
          issues.push({ path: pathOf(visit), code: 'not_json', message: 'a circular reference cannot be stored as JSON' });
          continue;
        }
        if (visit.depth > MAX_PAYLOAD_DEPTH) {
          issues.push({ path: pathOf(visit), code: TOO_DEEP, message: tooDeepMessage() });
          return issues;
        }
        const kind = kindOf(v);
        if (kind !== undefined) {
          issues.push({ path: pathOf(visit), code: 'not_json', message: `${kind} does not survive JSON` });
          continue;
        }
        ancestors.add(v);
        stack.push({ value: undefined, parent: undefined, key: undefined, depth: 0, leave: v });
        const depth = visit.depth + 1;
        // Children pushed last-first, so they are checked (and issues listed) in order.
        if (Array.isArray(v)) {
          for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], parent: visit, key: i, depth });
        } else {
          const keys = Object.keys(v);
          for (let i = keys.length - 1; i >= 0; i--) {
            const key = keys[i] as string;
            const child = (v as Record<string, unknown>)[key];
            if (child !== undefined) stack.push({ value: child, parent: visit, key, depth });
          }
        }
        continue;
      }
    }
  }
  return issues;
}

/** Issue code of a payload nested deeper than {@link MAX_PAYLOAD_DEPTH}. */
const TOO_DEEP = 'too_deep';
/** Issue code of a payload (or stored job) over the size limit. */
const TOO_BIG = 'too_big';

function tooDeepMessage(): string {
  return `the payload is nested deeper than ${MAX_PAYLOAD_DEPTH} levels (arrays and objects inside each other), the limit`;
}

/** Whether `raw` holds more than `limit` `{` and `[` in all (inside strings too): native searches, no parse. */
function openersExceed(raw: string, limit: number): boolean {
  let n = 0;
  for (let i = raw.indexOf('{'); i !== -1; i = raw.indexOf('{', i + 1)) if (++n > limit) return true;
  for (let i = raw.indexOf('['); i !== -1; i = raw.indexOf('[', i + 1)) if (++n > limit) return true;
  return false;
}

/**
 * Whether the JSON text `raw` nests arrays and objects deeper than `limit` levels. Cheap for the usual job: text too
 * short to be that deep (2 characters per level), or with no more than `limit` brackets in all, is never scanned;
 * otherwise one pass that skips over strings with native searches.
 */
export function nestedDeeperThan(raw: string, limit: number): boolean {
  if (raw.length <= 2 * limit || !openersExceed(raw, limit)) return false;
  let depth = 0;
  const n = raw.length;
  for (let i = 0; i < n; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x22) {
      // To the closing quote: the next quote preceded by an even number of backslashes.
      for (;;) {
        i = raw.indexOf('"', i + 1);
        if (i === -1) return false;
        let slashes = 0;
        while (raw.charCodeAt(i - 1 - slashes) === 0x5c) slashes++;
        if (slashes % 2 === 0) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/**
 * Checks a stored job's text before it is parsed: at most `maxBytes` bytes (O(1) for small jobs, see
 * {@link fitsBytes}) and nested no deeper than a payload may be (the envelope adds one level). Returns the problem as
 * a payload issue, or undefined. The job name is read from the head of the text, as the whole is not parsed.
 */
export function checkStoredJob(raw: string, maxBytes: number): StoredJobProblem | undefined {
  if (!fitsBytes(raw, maxBytes)) return storedJobTooBig(Buffer.byteLength(raw), raw.slice(0, STORED_JOB_HEAD_BYTES), maxBytes);
  if (!nestedDeeperThan(raw, MAX_PAYLOAD_DEPTH + 1)) return undefined;
  return { ...headFieldsOf(raw), issue: { path: [], code: TOO_DEEP, message: `${tooDeepMessage()}; it was not parsed` } };
}

/**
 * Bytes of a stored job read for its name and unique key when the whole is not parsed: the fields before `p` take at
 * most about 330 bytes (a 100-byte name twice, times, attempts, priority). fetch.lua / recover.lua send as many.
 */
const STORED_JOB_HEAD_BYTES = 512;

/** What is known of a stored job that was not parsed: its name and unique key if readable, and the problem. */
export interface StoredJobProblem {
  /** Undefined when the head is not that of an envelope jobcraft writes (garbage: a malformed job). */
  readonly job: string | undefined;
  /** The envelope's `u`, so that dead-lettering it releases its unique lock. */
  readonly unique: string | undefined;
  readonly issue: PayloadIssue;
}

// The head of an envelope as encodeEnvelope writes it: n, t, then optional a, r, u (a job name, ':' and a sha1).
const HEAD_PATTERN =
  /^\{"n":"([A-Za-z][A-Za-z0-9_.-]{0,99})"(?:,"t":-?\d{1,20})?(?:,"a":\d{1,10})?(?:,"r":-?\d{1,10})?(?:,"u":"([A-Za-z][A-Za-z0-9_.-]{0,99}:[0-9a-f]{40})")?/;

/** The job name and unique key at the head of an envelope jobcraft wrote (`{"n":"name",…`), when readable. */
export function headFieldsOf(head: string): { job: string | undefined; unique: string | undefined } {
  const m = HEAD_PATTERN.exec(head.slice(0, STORED_JOB_HEAD_BYTES));
  return { job: m?.[1], unique: m?.[2] };
}

/** The problem with a stored job of `bytes` bytes, over `maxBytes`; `head` is its beginning (for the job name). */
export function storedJobTooBig(bytes: number, head: string, maxBytes: number): StoredJobProblem {
  return {
    ...headFieldsOf(head),
    issue: {
      path: [],
      code: TOO_BIG,
      message: `the stored job is ${formatBytes(bytes)} (${bytes} bytes), over this worker's limit of ${formatBytes(maxBytes)} (maxPayloadBytes + ${ENVELOPE_OVERHEAD_BYTES} bytes of envelope); it was not parsed`,
    },
  };
}

/** Converts zod issues to our issue shape (zod paths may hold symbols; they are shown as strings). */
export function toIssues(error: z.core.$ZodError): PayloadIssue[] {
  return error.issues.map((i) => ({
    path: i.path.map((p) => (typeof p === 'number' ? p : String(p))),
    code: i.code,
    message: i.message,
  }));
}

/**
 * What payload checks read of a job declaration (its name and schema): declared here rather than imported from
 * define.ts, which imports this module (no import cycle).
 */
export interface PayloadJob {
  readonly name: string;
  readonly schema: z.core.$ZodType;
  /** The option `schema` is, for errors: `versions[k].payload` for an earlier payload version. Default `payload`. */
  readonly option?: string;
}

/** Runs a job's schema synchronously, turning zod's "async schema" failure into a clear error. */
export function parsePayload(job: PayloadJob, data: unknown): z.ZodSafeParseResult<unknown> {
  try {
    return z.safeParse(job.schema, data);
  } catch (err) {
    if (err instanceof Error && /async/i.test(err.message)) {
      throw new JobDefinitionError(job.name, job.option ?? 'payload', 'the schema is asynchronous (async refine/transform); jobcraft needs synchronous schemas');
    }
    throw err;
  }
}

/**
 * Validates a payload for enqueue and returns its JSON text. Throws {@link JobValidationError} when the payload
 * fails the schema, holds values JSON cannot carry, or exceeds `maxBytes`. What is validated is the payload as the
 * worker will read it back (after the JSON round trip), so a stored job always passes its schema at dequeue unless
 * the schema changes.
 */
export function serializePayload(
  job: PayloadJob,
  payload: unknown,
  maxBytes: number,
  index?: number,
): { text: string; parsed: unknown } {
  const notJson = jsonIssues(payload);
  if (notJson.length > 0) throw new JobValidationError(job.name, notJson, 'enqueue', index);
  const text = JSON.stringify(payload);
  if (text === undefined) {
    throw new JobValidationError(job.name, [{ path: [], code: 'not_json', message: 'the payload is undefined' }], 'enqueue', index);
  }
  // The size is checked before the schema runs, so a huge payload costs no parse.
  if (!fitsBytes(text, maxBytes)) {
    const bytes = Buffer.byteLength(text);
    throw new JobValidationError(
      job.name,
      [{ path: [], code: TOO_BIG, message: `the payload is ${bytes} bytes of JSON, over the limit of ${maxBytes} bytes` }],
      'enqueue',
      index,
    );
  }
  const result = parsePayload(job, JSON.parse(text));
  if (!result.success) throw new JobValidationError(job.name, toIssues(result.error), 'enqueue', index);
  return { text, parsed: result.data };
}

/** JSON with object keys sorted at every level, so equal values always give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/** Builds the envelope text around an already-serialized payload. */
export function encodeEnvelope(
  name: string,
  enqueuedAt: number,
  payloadJson: string,
  attempts?: number,
  priority?: number,
  unique?: string,
  dueAt?: number,
  traceContext?: string,
  version?: number,
): string {
  let head = `{"n":${JSON.stringify(name)},"t":${enqueuedAt}`;
  if (attempts !== undefined) head += `,"a":${attempts}`;
  if (priority !== undefined && priority !== 0) head += `,"r":${priority}`;
  if (unique !== undefined) head += `,"u":${JSON.stringify(unique)}`;
  // After "u": the head pattern (headFieldsOf) reads n, t, a, r, u in this order from an unparsed stored job.
  if (dueAt !== undefined) head += `,"d":${dueAt}`;
  // Only when not 1: an unversioned job's stored bytes are as before versions existed.
  if (version !== undefined && version !== 1) head += `,"v":${version}`;
  if (traceContext !== undefined && traceContext.length <= TRACE_CONTEXT_MAX) head += `,"tc":${JSON.stringify(traceContext)}`;
  return `${head},"p":${payloadJson}}`;
}

/** A stored job that could be read, or the reason it could not. */
export type DecodedEnvelope = { ok: true; envelope: Envelope } | { ok: false; reason: string };

/** Parses an envelope read from Redis, checking its shape without trusting it. */
export function decodeEnvelope(raw: string | null): DecodedEnvelope {
  if (raw === null) return { ok: false, reason: 'no stored job for this id (the jobs hash has no entry)' };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    return { ok: false, reason: `malformed JSON in the stored job: ${(err as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'the stored job is not a JSON object' };
  }
  const v = value as Record<string, unknown>;
  if (typeof v.n !== 'string') return { ok: false, reason: 'the stored job has no job name (field "n")' };
  if (typeof v.t !== 'number') return { ok: false, reason: 'the stored job has no enqueue time (field "t")' };
  if (!('p' in v)) return { ok: false, reason: 'the stored job has no payload (field "p")' };
  if (v.a !== undefined && (typeof v.a !== 'number' || !Number.isInteger(v.a) || v.a < 1)) {
    return { ok: false, reason: 'the stored job has an invalid attempts override (field "a")' };
  }
  if (v.v !== undefined && (typeof v.v !== 'number' || !Number.isInteger(v.v) || v.v < 1)) {
    return { ok: false, reason: `the stored job has an invalid payload version (field "v": ${JSON.stringify(v.v)}; a version is an integer from 1)` };
  }
  return {
    ok: true,
    envelope: {
      n: v.n,
      t: v.t,
      p: v.p,
      a: v.a as number | undefined,
      r: typeof v.r === 'number' ? v.r : undefined,
      u: typeof v.u === 'string' && /^[A-Za-z0-9_.-]+:[0-9a-f]{40}$/.test(v.u) ? v.u : undefined,
      d: typeof v.d === 'number' && Number.isFinite(v.d) ? v.d : undefined,
      v: v.v as number | undefined,
      // Kept only when it is a bounded string; its content is checked by parseTraceContext when a tracer reads it.
      tc: typeof v.tc === 'string' && v.tc.length <= TRACE_CONTEXT_MAX ? v.tc : undefined,
      ch: v.ch,
      fi: v.fi,
    },
  };
}
