/**
 * The producer side of fan-in (docs/results.md, "Fan-in"): `client.fanIn(parent, payload, { children, payloads, into,
 * onChildFailure })`. Type-checks the parent's payload field against the children's result type, writes the fan-in's
 * record and its children's hand-offs with one fanin-create.lua call, creates the children, and waits for the parent.
 */
import { randomUUID } from 'node:crypto';
import type * as z from 'zod';
import type { JobName, JobSet, JobsWithResult, PayloadInput, ResolvedJob, ResultOutput, ResultSchemaOf } from './define.js';
import { InvalidArgumentError, JobValidationError } from './errors.js';
import { MAX_CHAIN_ID_LENGTH, outboxEntryJson, stepRefOf, withField } from './chain.js';
import { DEFAULT_MAX_CHILDREN, MAX_CHILDREN, childId, faninLinkJson, type ChildFailurePolicy } from './fan-in.js';
import { encodeEnvelope, jsonIssues, parsePayload, serializePayload, toIssues } from './payload.js';
import { emitPayloadJob } from './versions.js';
import { faninKeys, type FaninKeys } from './keys.js';
import type { StepClientDeps } from './chain-client.js';
import type { ResultWaitOptions } from './result-wait.js';
import type { FaninCreateInput } from './scripts.js';
import type { Logger } from './logger.js';

/** What the parent's field receives: each child's result output, in child order (`null` for a failed one under `continue`). */
export type ChildResults<J extends JobSet, C extends JobName<J>, P extends ChildFailurePolicy> = P extends 'continue'
  ? (ResultOutput<J, C> | null)[]
  : ResultOutput<J, C>[];

/** The fields of parent `N`'s payload that accept the children's results (an array of `C`'s result output). */
export type FanInField<J extends JobSet, N extends JobName<J>, C extends JobName<J>, P extends ChildFailurePolicy> = {
  [K in keyof PayloadInput<J, N> & string]-?: [ChildResults<J, C, P>] extends [PayloadInput<J, N>[K]] ? K : never;
}[keyof PayloadInput<J, N> & string];

/** Options of `client.fanIn`. */
export interface FanInOptions<J extends JobSet, C extends JobsWithResult<J>, F extends string, P extends ChildFailurePolicy> {
  /** The children's job (one that declares a `result`). */
  readonly children: C;
  /** One payload per child, in order: child `i` is the job `<parent id>/<i>`. */
  readonly payloads: readonly PayloadInput<J, C>[];
  /** The parent payload's field that receives the children's results (an array, in child order). */
  readonly into: F;
  /**
   * What a dead child does: `fail` (default) — the parent goes to the dead letters (`child_failed`) without running;
   * `continue` — the parent runs, `null` in the failed child's place; `ignore` — the parent runs with the completed
   * children's results only.
   */
  readonly onChildFailure?: P;
  /** Most children allowed (refused above it). Default 1,000; at most 10,000. */
  readonly maxChildren?: number;
  /** The parent's id (idempotent: a second fan-in with it writes nothing). Default `fanin-<uuid>`. */
  readonly jobId?: string;
  /** The parent's priority (default its type's). */
  readonly priority?: number;
  /** The parent's total attempts (default its type's). */
  readonly attempts?: number;
}

/** An enqueued fan-in; `result()` when the parent's job declares a result. */
export type EnqueuedFanIn<J extends JobSet, N extends JobName<J>> = FanInInfo &
  ([ResultSchemaOf<J['definitions'], N>] extends [z.core.$ZodType]
    ? {
        /** The parent's result, once its children ended and it ran (see docs/results.md, "Fan-in"). */
        result(options?: ResultWaitOptions): Promise<ResultOutput<J, N>>;
      }
    : unknown);

/** An enqueued fan-in's ids. */
export interface FanInInfo {
  /** The parent's job id (it exists as a job once every child ended). */
  readonly id: string;
  /** True when a fan-in or job with this `jobId` was already known: nothing was written. */
  readonly duplicate: boolean;
  /** The children's job ids, in order (`<parent id>/<index>`). */
  readonly children: readonly string[];
}

/** What the fan-in code needs from its client. */
export interface FanInClientDeps extends StepClientDeps {
  readonly logger: Logger;
  /** fanin-create.lua within the client's timeout. */
  create(keys: FaninKeys, input: FaninCreateInput): Promise<boolean>;
  /** Creates children (enqueue.lua with given ids) in queue `k`; then their outbox entries are removed. */
  createChildren(job: ResolvedJob, items: readonly string[], outbox: string, ids: readonly string[]): Promise<void>;
}

const POLICIES: readonly ChildFailurePolicy[] = ['fail', 'continue', 'ignore'];

/** The options as the run-time code reads them (the types live in {@link FanInOptions}). */
export type AnyFanInOptions = Omit<FanInOptions<JobSet, never, string, ChildFailurePolicy>, 'children' | 'payloads'> & {
  readonly children: string;
  readonly payloads: readonly unknown[];
};

export async function enqueueFanIn(deps: FanInClientDeps, parentName: string, payload: unknown, o: AnyFanInOptions): Promise<unknown> {
  const parent = deps.jobOf(parentName);
  const where = `fanIn "${parentName}"`;
  const child = deps.jobOf(o.children);
  const policy = o.onChildFailure ?? 'fail';
  if (!POLICIES.includes(policy)) throw new InvalidArgumentError(where, 'onChildFailure', `onChildFailure must be one of ${POLICIES.join(', ')}, got ${JSON.stringify(policy)}`);
  if (child.result === undefined) throw new InvalidArgumentError(where, 'children', `the children's job "${child.name}" declares no result to hand to the parent`);
  if (parent.unique !== undefined || parent.throttle !== undefined || child.unique !== undefined) {
    throw new InvalidArgumentError(where, 'children', 'a fan-in parent cannot be unique or throttled, nor its children unique');
  }
  const max = o.maxChildren ?? DEFAULT_MAX_CHILDREN;
  if (!Number.isInteger(max) || max < 1 || max > MAX_CHILDREN) throw new InvalidArgumentError(where, 'maxChildren', `maxChildren must be an integer from 1 to ${MAX_CHILDREN}, got ${String(max)}`);
  const n = o.payloads.length;
  if (n < 1 || n > max) throw new InvalidArgumentError(where, 'payloads', `a fan-in has 1 to maxChildren (${max}) children, got ${n}`);
  if (typeof o.into !== 'string' || o.into.length === 0) throw new InvalidArgumentError(where, 'into', 'into must name a field of the parent payload');
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new InvalidArgumentError(where, 'payload', "a fan-in parent's payload must be an object (its field `into` receives the children's results)");
  const id = o.jobId === undefined ? `fanin-${randomUUID()}` : deps.checkJobId(o.jobId, parent.name);
  if (id.length > MAX_CHAIN_ID_LENGTH) throw new InvalidArgumentError(where, 'jobId', `a fan-in's jobId has at most ${MAX_CHAIN_ID_LENGTH} characters, got ${id.length}`);
  // The parent's envelope around a placeholder: its field `into` last, so the results go between head and tail.
  const { [o.into]: _ignored, ...rest } = payload as Record<string, unknown>;
  const shaped = { ...rest, [o.into]: 0 };
  const issues = jsonIssues(shaped);
  if (issues.length > 0) throw new JobValidationError(parent.name, issues, 'enqueue');
  // The rest of the parent's payload is checked now, not after every child ran: its schema on the payload with an
  // empty results field, keeping the issues elsewhere (that field, and whole-object checks that may read it, are
  // checked when the parent is dequeued, with the results in place).
  const probe = parsePayload(emitPayloadJob(parent), { ...rest, [o.into]: [] });
  const elsewhere = probe.success ? [] : toIssues(probe.error).filter((i) => i.path.length > 0 && i.path[0] !== o.into);
  if (elsewhere.length > 0) throw new JobValidationError(parent.name, elsewhere, 'enqueue');
  const now = Date.now();
  const priority = o.priority ?? parent.priority;
  // The field written last by hand: JSON.stringify puts integer-like keys ("0") first, whatever the spread's order.
  const restJson = JSON.stringify(rest);
  const field = `${JSON.stringify(o.into)}:0}`;
  const shapedJson = restJson === '{}' ? `{${field}` : `${restJson.slice(0, -1)},${field}`;
  const env = encodeEnvelope(parent.name, now, shapedJson, o.attempts, priority, undefined, undefined, undefined, parent.emitVersion);
  const head = env.slice(0, env.length - 3);
  const tail = env.slice(env.length - 2);
  // The children, each carrying its link to the parent; validated like an enqueueMany (all or nothing).
  const pk = deps.keysOf(parent.queue);
  const link = { id, q: parent.queue, ...(parent.result === undefined ? {} : { c: 1 as const }) };
  const childRef = stepRefOf(child);
  const ids: string[] = [];
  const items: string[] = [];
  // Array.from, not map: a hole in a sparse list is a missing payload (refused), not a child silently skipped.
  const children = Array.from(o.payloads, (p, i) => {
    const { text } = serializePayload(emitPayloadJob(child), p, deps.maxPayloadBytes, i);
    const cid = childId(id, i);
    const e = withField(encodeEnvelope(child.name, now, text, undefined, child.priority, undefined, undefined, undefined, child.emitVersion), 'fi', faninLinkJson({ ...link, i }));
    ids.push(cid);
    items.push(cid, e);
    return { id: cid, entry: outboxEntryJson(childRef, e, now) };
  });
  deps.registerOnce(parent.queue);
  deps.registerOnce(child.queue);
  const created = await deps.create(faninKeys(pk, id), { parent: id, policy, head, tail, priority, children });
  if (created) {
    // The record (with the children's hand-offs) is written: creating the children now is only quicker than the sweep.
    await deps.createChildren(child, items, pk.chainOutbox, ids).catch((err: unknown) =>
      deps.logger.warn(`fan-in ${id}: creating its children failed (${(err as Error).message}); a worker serving queue "${parent.queue}" creates them`),
    );
  }
  const out: Record<string, unknown> = { id, duplicate: !created, children: ids };
  // The parent's result is waited for like any job's: result.lua counts the fan-in's record as a live job while the
  // children run, so the one wait (subscribed, polled, going on while Redis is unreachable) covers both.
  if (parent.result !== undefined) out.result = (wo?: ResultWaitOptions) => deps.wait(parent, id, wo ?? {});
  return out;
}
