/**
 * Size limits on everything jobcraft stores or logs about a failure, and on the shape of a payload. Every limit is
 * listed in docs/reliability.md ("Round 2: bounded records, hostile payloads, cron clocks").
 */

/** Most bytes (UTF-8) of an error message kept in an error record or a dead letter. */
export const MAX_ERROR_MESSAGE_BYTES = 8 * 1024;
/** Most bytes of a stored stack trace (the message line is not repeated in it when it would be cut). */
export const MAX_ERROR_STACK_BYTES = 16 * 1024;
/** Most bytes of an error's name. */
export const MAX_ERROR_NAME_BYTES = 200;
/** Most bytes of one stored error record (the JSON in the queue's `errors` hash, or `error` in a dead letter). */
export const MAX_STORED_ERROR_BYTES = 32 * 1024;
/**
 * Most earlier errors a job keeps beside its last one (in its `errors` record, then in its dead letter), oldest
 * dropped first: with the last one, 5 errors — every attempt of a job with the default 5 attempts. The same number is
 * `MAX_EARLIER_ERRORS` in src/lua/_lib.lua, which writes the list.
 */
export const MAX_EARLIER_ERRORS = 4;
/**
 * Most bytes of the JSON of one earlier error (name ≤ 200 bytes, message ≤ 2 KiB, stack ≤ 4 KiB; escapes that push
 * it over drop the stack, then cut the name to 64 and the message to 512 bytes). So the history adds at most 4 × 8 KiB = 32 KiB to a
 * job's error record (≤ 64 KiB in all) and to its dead letter's info record (≤ 96 KiB). `EARLIER_ERROR_BYTES` in
 * src/lua/_lib.lua.
 */
export const MAX_EARLIER_ERROR_BYTES = 8 * 1024;
/** Most payload issues kept in a dead letter (`JobValidationError.issues` at enqueue keeps all); a last entry counts the rest. */
export const MAX_ISSUES = 20;
/** Most issues listed in a `JobValidationError` message, each in at most 256 bytes (the rest are counted). */
export const MAX_ISSUES_IN_MESSAGE = 5;
/** Most bytes of one issue's line in a `JobValidationError` message. */
export const MAX_ISSUE_LINE_BYTES = 256;
/** Most bytes of one issue's message. */
export const MAX_ISSUE_MESSAGE_BYTES = 512;
/** Most segments of one issue's path kept (the deepest ones are dropped, and a `…` segment says so). */
export const MAX_ISSUE_PATH_SEGMENTS = 16;
/** Most bytes of one path segment (an object key). */
export const MAX_ISSUE_PATH_SEGMENT_BYTES = 64;
/** Dead letters kept per queue by default (a worker's `deadLetters.max`; the cap the admin and a client use). */
export const DEFAULT_MAX_DEAD = 10_000;
/** Most bytes of one dead letter's info record (reason, error, issues): the whole JSON in `dead:info`. */
export const MAX_DEAD_INFO_BYTES = 64 * 1024;
/** Most bytes of one log message (and of each top-level string field) the worker hands to its logger. */
export const MAX_LOG_MESSAGE_BYTES = 8 * 1024;
/** Deepest nesting of arrays and objects a payload may have (`{}` is 1 level); zod and JSON.stringify recurse. */
export const MAX_PAYLOAD_DEPTH = 256;
/** Bytes an envelope may hold besides its payload (job name, times, attempts, priority, unique key, trace context ≤ 568). */
export const ENVELOPE_OVERHEAD_BYTES = 1024;

/** A byte count for people: `512 bytes`, `12.5 KiB`, `20.0 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * UTF-8 size of `s`, computed only when it may matter: a string of n UTF-16 units has between n and 3n bytes, so
 * short strings cost nothing.
 */
export function fitsBytes(s: string, maxBytes: number): boolean {
  if (s.length * 3 <= maxBytes) return true;
  if (s.length > maxBytes) return false;
  return Buffer.byteLength(s) <= maxBytes;
}

/**
 * `s` cut to at most `maxBytes` bytes of UTF-8, marker included, with a visible marker saying how big it was:
 * `… [truncated, 20.0 MiB in all]`. Never splits a character. A bound too small for the marker gets the bare head.
 */
export function truncateBytes(s: string, maxBytes: number): string {
  if (fitsBytes(s, maxBytes)) return s;
  const marker = ` … [truncated, ${formatBytes(Buffer.byteLength(s))} in all]`;
  const markerBytes = Buffer.byteLength(marker);
  const marked = markerBytes <= maxBytes;
  const room = Math.max(0, marked ? maxBytes - markerBytes : maxBytes);
  // At most `room` units can fit in `room` bytes: encode only that head (never half a surrogate pair), then back
  // off to a character boundary.
  let units = Math.min(room, s.length);
  const last = s.charCodeAt(units - 1);
  if (last >= 0xd800 && last <= 0xdbff) units--;
  const head = Buffer.from(s.slice(0, units), 'utf8');
  let end = Math.min(room, head.length);
  while (end > 0 && end < head.length && ((head[end] as number) & 0xc0) === 0x80) end--;
  const text = head.subarray(0, end).toString('utf8');
  return marked ? text + marker : text;
}
