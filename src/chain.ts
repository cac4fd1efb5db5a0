/**
 * Chains (docs/results.md, "Chains"): a → b → c, each step's result the next step's payload. What travels with a
 * step — the rest of its chain, in its envelope's `ch` field — and how the worker that completes a step builds the
 * next one: its id (derived from the chain id and the step's index, so a repeated hand-off is a no-op), its envelope,
 * and the outbox entry the acknowledgement records in the step's own queue (src/lua/fetch.lua `record_handoffs`).
 */
import { InvalidResultError, type PayloadIssue } from './errors.js';
import { JOB_NAME_PATTERN, QUEUE_NAME_PATTERN, type ResolvedJob } from './job-options.js';
import { encodeEnvelope, jsonIssues } from './payload.js';
import { readResult, type ResultJob } from './result.js';

/** Most steps in one chain (the first included). Each later step adds at most ~230 bytes to the first envelope. */
export const MAX_CHAIN_STEPS = 16;
/** Longest chain id (a `jobId` given to `client.chain`): ids of steps add `/<index>`. */
export const MAX_CHAIN_ID_LENGTH = 240;

/** A later step as the envelopes before it carry it. */
export interface ChainStepRef {
  /** Job name. */
  readonly n: string;
  /** Its queue. */
  readonly q: string;
  /** Its priority, when not 0. */
  readonly r?: number;
  /** 1 when its type is throttled (its jobs wait in the type's ready set). */
  readonly y?: 1;
  /**
   * The payload version its payload is written as (its job's `emitVersion`, whose input type the chain's types check
   * the previous result against), when not 1: the envelope's `v` (docs/contracts.md, "Versioned payloads").
   */
  readonly v?: number;
}

/** The rest of a chain, in the envelope (`ch`) of every step but the last. */
export interface ChainLink {
  /** The chain's id: step `i` has the job id `<id>/<i>`. */
  readonly id: string;
  /** This step's index (0 = the first). */
  readonly i: number;
  /** The steps after this one, in order (at least one). */
  readonly s: readonly ChainStepRef[];
}

/** How an envelope before it names the step of job `job` (as its hand-off will write it). */
export function stepRefOf(job: ResolvedJob): ChainStepRef {
  return { n: job.name, q: job.queue, ...(job.priority === 0 ? {} : { r: job.priority }), ...(job.throttle === undefined ? {} : { y: 1 as const }), ...(job.emitVersion === 1 ? {} : { v: job.emitVersion }) };
}

/** The job id of step `index` of chain `chainId`. */
export function chainStepId(chainId: string, index: number): string {
  return `${chainId}/${index}`;
}

/** The largest payload version a chain record may name (a bound on hostile records; no job has that many versions). */
const MAX_CHAIN_STEP_VERSION = 1_000;

/** Reads the `ch` field of a stored job (anyone's text: checked, never trusted), or says what is wrong with it. */
export function parseChainLink(value: unknown): ChainLink | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'its chain record (field "ch") is not an object';
  const v = value as Record<string, unknown>;
  if (typeof v.id !== 'string' || v.id.length === 0 || v.id.length > MAX_CHAIN_ID_LENGTH) return 'its chain record has no valid chain id ("ch.id")';
  if (typeof v.i !== 'number' || !Number.isInteger(v.i) || v.i < 0 || v.i >= MAX_CHAIN_STEPS - 1) return 'its chain record has no valid step index ("ch.i")';
  if (!Array.isArray(v.s) || v.s.length === 0 || v.i + v.s.length >= MAX_CHAIN_STEPS) return 'its chain record has no valid list of next steps ("ch.s")';
  const steps: ChainStepRef[] = [];
  for (const [j, s] of (v.s as unknown[]).entries()) {
    const step = s as Record<string, unknown> | null;
    if (typeof step !== 'object' || step === null || typeof step.n !== 'string' || !JOB_NAME_PATTERN.test(step.n) || typeof step.q !== 'string' || !QUEUE_NAME_PATTERN.test(step.q)) {
      return `its chain record's step ${v.i + 1 + j} ("ch.s[${j}]") has no valid job name and queue`;
    }
    if (step.v !== undefined && (typeof step.v !== 'number' || !Number.isInteger(step.v) || step.v < 2 || step.v > MAX_CHAIN_STEP_VERSION)) {
      return `its chain record's step ${v.i + 1 + j} ("ch.s[${j}].v") has no valid payload version`;
    }
    const r = typeof step.r === 'number' && Number.isInteger(step.r) && step.r !== 0 ? step.r : undefined;
    steps.push({ n: step.n, q: step.q, ...(r === undefined ? {} : { r }), ...(step.y === 1 ? { y: 1 as const } : {}), ...(step.v === undefined ? {} : { v: step.v }) });
  }
  return { id: v.id, i: v.i, s: steps };
}

/** The JSON of a chain record, as placed in an envelope. */
export function chainLinkJson(link: ChainLink): string {
  return JSON.stringify({ id: link.id, i: link.i, s: link.s });
}

/**
 * `envelope` (as encodeEnvelope writes it) with the chain record `ch` added just before the payload: after the head
 * fields (n, t, a, r, u, d, tc), so a stored job's head still reads as before. The first `,"p":` of an envelope is its
 * payload's (the fields before it are numbers and JSON strings, in which `"` is escaped).
 */
export function withChainLink(envelope: string, link: ChainLink): string {
  return withField(envelope, 'ch', chainLinkJson(link));
}

/** `envelope` with field `name` (its JSON `json`) added just before the payload (see {@link withChainLink}). */
export function withField(envelope: string, name: string, json: string): string {
  const at = envelope.indexOf(',"p":');
  return `${envelope.slice(0, at)},${JSON.stringify(name)}:${json}${envelope.slice(at)}`;
}

/** The hand-off of a completed step: the next step's id and the outbox entry that creates it. */
export interface Handoff {
  /** The next step's job id. */
  readonly next: string;
  /** The outbox entry (JSON): see {@link OutboxEntry}. */
  readonly entry: string;
}

/** An outbox entry: the next step to create, in queue `q` (docs/redis-layout.md, `P:{q}:chain:outbox`). */
export interface OutboxEntry {
  /** The next step's queue. */
  readonly q: string;
  /** Its job name. */
  readonly n: string;
  /** Its priority (0 when absent). */
  readonly r?: number;
  /** 1: its type is throttled. */
  readonly y?: 1;
  /** When the entry was written (ms since the epoch, the worker's clock): the sweep takes only old entries. */
  readonly w: number;
  /** The next step's envelope. */
  readonly e: string;
}

/**
 * The hand-off of step `link.i` of a chain, whose job `job` (id `id`) produced the result stored as `resultJson`: the
 * next step's payload is that result **as a reader gets it** (parsed by the result schema: its output type), which
 * must be JSON (a transform to a Date, say, cannot be a stored payload). Else the InvalidResultError that fails the
 * step (not retried: the same code would return the same value).
 */
export function chainHandoff(job: ResultJob, id: string, link: ChainLink, resultJson: string, now: number): Handoff | InvalidResultError {
  const read = readResult(job, id, resultJson);
  if (!('value' in read)) return new InvalidResultError(job.name, id, read.issues);
  const notJson = jsonIssues(read.value);
  if (notJson.length > 0) {
    const issues: PayloadIssue[] = notJson.map((i) => ({ ...i, message: `${i.message} (the result's output is the payload of the chain's next step, "${link.s[0]?.n}", and must be JSON)` }));
    return new InvalidResultError(job.name, id, issues);
  }
  const [step, ...rest] = link.s as [ChainStepRef, ...ChainStepRef[]];
  const index = link.i + 1;
  let envelope = encodeEnvelope(step.n, now, JSON.stringify(read.value), undefined, step.r, undefined, undefined, undefined, step.v);
  if (rest.length > 0) envelope = withChainLink(envelope, { id: link.id, i: index, s: rest });
  return { next: chainStepId(link.id, index), entry: outboxEntryJson(step, envelope, now) };
}

/** The outbox entry (JSON) that creates the job of `step` with `envelope` (written at `now`): a chain's next step or a fan-in's child. */
export function outboxEntryJson(step: ChainStepRef, envelope: string, now: number): string {
  const entry: OutboxEntry = { q: step.q, n: step.n, ...(step.r === undefined ? {} : { r: step.r }), ...(step.y === undefined ? {} : { y: step.y }), w: now, e: envelope };
  return JSON.stringify(entry);
}

/**
 * An outbox entry of a fan-in child that ended (docs/results.md, "Fan-in"): recorded for parent `p` in queue `q` (with
 * fanin-record.lua, idempotent per child index `i`). `x`: the child's result JSON (output form); absent: it failed.
 */
export interface FaninEntry {
  readonly k: 'f';
  readonly q: string;
  readonly p: string;
  readonly i: number;
  readonly x?: string;
  /** 1: the parent's type declares a result (its death is announced on its queue's results channel). */
  readonly c?: 1;
  readonly w: number;
}

/** Reads an outbox entry back (our own text, but a key anyone may write: checked). */
export function parseOutboxEntry(raw: string): OutboxEntry | FaninEntry | undefined {
  try {
    const v = JSON.parse(raw) as Record<string, unknown>;
    if (typeof v !== 'object' || v === null) return undefined;
    if (v.k === 'f') {
      if (typeof v.q !== 'string' || !QUEUE_NAME_PATTERN.test(v.q) || typeof v.p !== 'string' || typeof v.i !== 'number' || !Number.isInteger(v.i) || v.i < 0 || typeof v.w !== 'number') return undefined;
      if (v.x !== undefined && typeof v.x !== 'string') return undefined;
      return { k: 'f', q: v.q, p: v.p, i: v.i, w: v.w, ...(v.x === undefined ? {} : { x: v.x }), ...(v.c === 1 ? { c: 1 as const } : {}) };
    }
    // A queue name as jobcraft allows it: anything else (a brace, say) would make keys outside the queue's hash tag.
    if (typeof v.q !== 'string' || !QUEUE_NAME_PATTERN.test(v.q) || typeof v.n !== 'string' || typeof v.e !== 'string' || typeof v.w !== 'number') return undefined;
    return { q: v.q, n: v.n, r: typeof v.r === 'number' ? v.r : undefined, y: v.y === 1 ? 1 : undefined, w: v.w, e: v.e } as OutboxEntry;
  } catch {
    return undefined;
  }
}
