/**
 * Job results (docs/results.md): the checks a handler's returned value passes before it is stored, and the reading
 * of a stored result back. A result is stored in the form the handler returned it (the schema's input), as JSON, and
 * parsed again by whoever reads it (so its output type, defaults and transforms included, is what a waiter gets) —
 * the same rule as payloads.
 */
import * as z from 'zod';
import { fitsBytes } from './bounds.js';
import { InvalidResultError, ResultUnreadableError, type PayloadIssue } from './errors.js';
import { jsonIssues, toIssues } from './payload.js';

/** What result checks read of a job declaration: its name and its resolved `result` option. */
export interface ResultJob {
  readonly name: string;
  readonly result?: { readonly schema: z.core.$ZodType; readonly retentionMs: number; readonly maxBytes: number } | undefined;
}

function runSchema(schema: z.core.$ZodType, value: unknown): z.ZodSafeParseResult<unknown> | PayloadIssue[] {
  try {
    return z.safeParse(schema, value);
  } catch (err) {
    const async = err instanceof Error && /async/i.test(err.message);
    return [{ path: [], code: 'custom', message: async ? 'the result schema is asynchronous (async refine/transform); jobcraft needs synchronous schemas' : `the result schema threw: ${String(err)}` }];
  }
}

/**
 * The JSON to store for the value a handler of `job` (which declares a result) returned for job `id`, or the
 * {@link InvalidResultError} that fails the attempt (not retried). The checks, in order: the value survives a JSON
 * round trip unchanged (structurally: `undefined` as an object's property is the same as no property; `undefined`
 * as the value or inside an array, functions, symbols, BigInt, NaN and infinities, Dates, Maps, Sets, class
 * instances, binary data and cycles are refused), its JSON fits `maxBytes`, and it passes the schema (what is
 * checked is what a reader will parse).
 */
export function resultJsonOf(job: ResultJob, id: string, value: unknown): string | InvalidResultError {
  try {
    return checkedJson(job, id, value);
  } catch (err) {
    // Reading the value threw (a getter, a Proxy trap): the attempt fails like any other bad result, instead of the
    // error escaping the worker's promise reaction and leaving the job running for ever.
    let text: string;
    try {
      text = err instanceof Error ? err.message : String(err);
    } catch {
      text = 'a value that cannot be printed';
    }
    const message = `reading the result threw: ${text}`;
    return new InvalidResultError(job.name, id, [{ path: [], code: 'not_json', message }]);
  }
}

function checkedJson(job: ResultJob, id: string, value: unknown): string | InvalidResultError {
  const r = job.result;
  if (r === undefined) return new InvalidResultError(job.name, id, [{ path: [], code: 'custom', message: 'the job declares no result' }]);
  if (value === undefined) {
    return new InvalidResultError(job.name, id, [{ path: [], code: 'not_json', message: 'the handler returned undefined (the job declares a result: return a value)' }]);
  }
  const notJson = jsonIssues(value);
  if (notJson.length > 0) return new InvalidResultError(job.name, id, notJson);
  const json = JSON.stringify(value);
  if (!fitsBytes(json, r.maxBytes)) {
    const bytes = Buffer.byteLength(json);
    return new InvalidResultError(job.name, id, [{ path: [], code: 'too_big', message: `the result is ${bytes} bytes of JSON, over the job's maxResultBytes of ${r.maxBytes}` }]);
  }
  const parsed = runSchema(r.schema, JSON.parse(json));
  if (Array.isArray(parsed)) return new InvalidResultError(job.name, id, parsed);
  if (!parsed.success) return new InvalidResultError(job.name, id, toIssues(parsed.error));
  return json;
}

/** A stored result read back: its JSON parsed by the job's result schema (the output type), or why it cannot be. */
export function readResult(job: ResultJob, id: string, json: string): { readonly value: unknown } | ResultUnreadableError {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    return new ResultUnreadableError(job.name, id, [{ path: [], code: 'not_json', message: 'the stored result is not JSON' }]);
  }
  const schema = job.result?.schema;
  if (schema === undefined) return { value: data };
  const parsed = runSchema(schema, data);
  if (Array.isArray(parsed)) return new ResultUnreadableError(job.name, id, parsed);
  if (!parsed.success) return new ResultUnreadableError(job.name, id, toIssues(parsed.error));
  return { value: parsed.data };
}
