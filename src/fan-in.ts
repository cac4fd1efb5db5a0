/**
 * Fan-in (docs/results.md, "Fan-in"): a parent job created once its children ended, its payload field holding their
 * results. What a child carries in its envelope (`fi`), and the hand-off its worker records when it ends.
 */
import { InvalidResultError, type PayloadIssue } from './errors.js';
import { QUEUE_NAME_PATTERN } from './job-options.js';
import { jsonIssues } from './payload.js';
import { readResult, type ResultJob } from './result.js';
import type { FaninEntry, Handoff } from './chain.js';
import { faninKeys, resultChannel, type QueueKeys } from './keys.js';
import type { Scripts } from './scripts.js';

/** Children per parent by default, and the most a fan-in may have. */
export const DEFAULT_MAX_CHILDREN = 1_000;
export const MAX_CHILDREN = 10_000;

/** What a failed child does to its parent. */
export type ChildFailurePolicy = 'fail' | 'continue' | 'ignore';

/** The fan-in a child belongs to, in its envelope (`fi`). */
export interface FaninLink {
  /** The parent's job id. */
  readonly id: string;
  /** The parent's queue. */
  readonly q: string;
  /** This child's index (0-based) among its parent's children. */
  readonly i: number;
  /** 1: the parent's type declares a result. */
  readonly c?: 1;
}

/** Reads the `fi` field of a stored job (checked), or says what is wrong with it. */
export function parseFaninLink(value: unknown): FaninLink | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'its fan-in record (field "fi") is not an object';
  const v = value as Record<string, unknown>;
  if (typeof v.id !== 'string' || v.id.length === 0 || v.id.length > 256) return 'its fan-in record has no valid parent id ("fi.id")';
  if (typeof v.q !== 'string' || !QUEUE_NAME_PATTERN.test(v.q)) return 'its fan-in record has no valid parent queue ("fi.q")';
  if (typeof v.i !== 'number' || !Number.isInteger(v.i) || v.i < 0 || v.i >= MAX_CHILDREN) return 'its fan-in record has no valid child index ("fi.i")';
  return { id: v.id, q: v.q, i: v.i, ...(v.c === 1 ? { c: 1 as const } : {}) };
}

/**
 * The fan-in link of a stored job that is not parsed (over the worker's size or depth limit), read from its text: the
 * `fi` field sits just before the payload (`withField`), and the first `,"p":` of an envelope is its payload's (the
 * fields before it are numbers and JSON strings, in which `"` is escaped), so only the text before it is looked at.
 * Undefined when there is none or it cannot be read (e.g. it lies beyond the 512-byte head a too-big job is sent with).
 */
export function faninLinkOfHead(head: string): FaninLink | undefined {
  // Only before the payload: a payload's own text (anyone's) must never pass for a link.
  const end = head.indexOf(',"p":');
  if (end < 0) return undefined;
  const at = head.lastIndexOf(',"fi":{', end);
  if (at < 0) return undefined;
  try {
    const link = parseFaninLink(JSON.parse(head.slice(at + 6, end)));
    return typeof link === 'string' ? undefined : link;
  } catch {
    return undefined;
  }
}

/** The JSON of a child's link, as placed in its envelope. */
export function faninLinkJson(link: FaninLink): string {
  return JSON.stringify(link);
}

/** The id of child `index` of parent `parentId`. */
export function childId(parentId: string, index: number): string {
  return `${parentId}/${index}`;
}

/**
 * The outbox field of child `id`'s end: not its id, which is the field of its creation's hand-off in its parent's
 * queue outbox — the same hash when parent and children share a queue, where one would overwrite or delete the other
 * (a child ending while its creation's entry is still there lost its end). No job id holds `#` (client.ts checkJobId).
 */
export function faninEndField(id: string): string {
  return `${id}#end`;
}

function entryOf(link: FaninLink, id: string, value: string | undefined, now: number): Handoff {
  const entry: FaninEntry = { k: 'f', q: link.q, p: link.id, i: link.i, w: now, ...(value === undefined ? {} : { x: value }), ...(link.c === 1 ? { c: 1 as const } : {}) };
  return { next: faninEndField(id), entry: JSON.stringify(entry) };
}

/**
 * The hand-off of a child that completed with the result stored as `resultJson`: its output (what the parent gets)
 * must be JSON; else the InvalidResultError that fails the child (not retried).
 */
export function faninSuccess(job: ResultJob, id: string, link: FaninLink, resultJson: string | undefined, now: number): Handoff | InvalidResultError {
  if (resultJson === undefined) return entryOf(link, id, 'null', now);
  const read = readResult(job, id, resultJson);
  if (!('value' in read)) return new InvalidResultError(job.name, id, read.issues);
  const notJson = jsonIssues(read.value);
  if (notJson.length > 0) {
    const issues: PayloadIssue[] = notJson.map((i) => ({ ...i, message: `${i.message} (the result's output goes to the fan-in's parent, and must be JSON)` }));
    return new InvalidResultError(job.name, id, issues);
  }
  return entryOf(link, id, JSON.stringify(read.value), now);
}

/** The hand-off of a child that died: its parent records the failure. */
export function faninFailure(id: string, link: FaninLink, now: number): Handoff {
  return entryOf(link, id, undefined, now);
}

/**
 * Records, for its parent, how the fan-in child of outbox entry `e` ended (fanin-record.lua, idempotent per child; the
 * last child creates the parent). `k`: the keys of the parent's queue `e.q`; `maxDead`: its dead-letter cap, for a
 * parent dead-lettered `child_failed`. Returns 0 nothing done, 1 recorded, 2 parent created, 3 parent dead-lettered.
 */
export function recordFaninEnd(scripts: Pick<Scripts, 'faninRecord'>, k: QueueKeys, e: FaninEntry, maxDead: number): Promise<number> {
  return scripts.faninRecord(faninKeys(k, e.p), { parent: e.p, index: e.i, value: e.x ?? '', maxDead, publish: e.c === 1 ? resultChannel(k) : undefined });
}
