/**
 * Decoding of leased jobs: checks a stored job's size and depth on its text, decodes its envelope, finds its job
 * declaration and validates its payload, and builds the {@link JobRun} the worker runs. A job that fails any of this
 * goes to the dead letters (through the completer) with the reason (`malformed_job`, `unknown_job`,
 * `invalid_payload`).
 */
import { jobNamed, type JobSet, type ResolvedJob } from '../define.js';
import type { Envelope } from '../payload.js';
import { JobValidationError, toStoredError } from '../errors.js';
import type { JobRef } from '../events.js';
import type { QueueKeys } from '../keys.js';
import type { Logger } from '../logger.js';
import { checkStoredJob, decodeEnvelope, headFieldsOf, storedJobTooBig } from '../payload.js';
import { parseStoredPayload, storedJobOf, type StoredPayloadResult } from '../stored-payload.js';
import { MAX_DEAD_INFO_BYTES, truncateBytes } from '../bounds.js';
import type { LeasedJob, Scripts, Slot } from '../scripts.js';
import type { ThrottledType } from '../throttle.js';
import { deathChannel, type Completer, type EventSink } from './completer.js';
import type { JobRun } from './job-run.js';
import { parseChainLink, type ChainLink, type Handoff } from '../chain.js';
import { faninFailure, faninLinkOfHead, parseFaninLink, type FaninLink } from '../fan-in.js';

/** What decoding needs (its params). */
export interface DecodeParams {
  readonly jobSet: JobSet;
  readonly keys: ReadonlyMap<string, QueueKeys>;
  /** Each queue's throttled job types. */
  readonly types: ReadonlyMap<string, readonly ThrottledType[]>;
  /** Largest stored job (envelope) parsed. */
  readonly maxEnvelopeBytes: number;
  readonly scripts: Scripts;
  readonly logger: Logger;
  readonly events: EventSink;
  /** Where jobs that cannot be run go (the dead letters). */
  readonly completer: Pick<Completer, 'toDead'>;
  track<T>(promise: Promise<T>): Promise<T>;
  reportError(err: unknown, what: string): void;
  /**
   * Fails the attempt of a run that cannot start yet but must not be dead-lettered now (a payload version newer
   * than this worker knows): it is retried with backoff like any failed attempt.
   */
  failAttempt(run: JobRun, err: Error): void;
}

/** The identity of a leased job for a dead letter, as far as it is known. */
function leasedRef(queue: string, l: LeasedJob, name?: string, maxAttempts?: number): JobRef {
  return { id: l.id, name, queue, attempt: l.attempt, maxAttempts };
}

export class JobDecoder {
  private readonly throttleInfo = new Map<string, Map<string, { readonly typeIndex: number; readonly slot: Slot | undefined }>>();

  constructor(private readonly p: DecodeParams) {}

  /** A job's throttled type (its 1-based index among its queue's throttled types, 0 = none) and concurrency slot. */
  private throttleOf(queue: string, name: string): { readonly typeIndex: number; readonly slot: Slot | undefined } {
    let byName = this.throttleInfo.get(queue);
    if (byName === undefined) this.throttleInfo.set(queue, (byName = new Map()));
    let info = byName.get(name);
    if (info === undefined) {
      const types = this.p.types.get(queue) ?? [];
      const typeIndex = types.findIndex((t) => t.name === name) + 1;
      const type = types[typeIndex - 1];
      info = { typeIndex, slot: type !== undefined && type.concurrency > 0 ? { running: type.keys.running, ready: type.keys.ready } : undefined };
      byName.set(name, info);
    }
    return info;
  }

  /**
   * Decodes and validates a leased job of `queue` (`stage`: leased by a fetch, or by lease recovery, whose payload
   * is not parsed: the attempt only fails); sends it to the dead letters and returns undefined when that fails.
   */
  prepare(queue: string, l: LeasedJob, stage: 'dequeue' | 'recovery'): JobRun | undefined {
    const p = this.p;
    const k = p.keys.get(queue) as QueueKeys;
    const dead = p.completer;
    if (l.invalidId === true) {
      // The script already moved it to the dead letters, in one step with the rename: only report it.
      const error = toStoredError(new Error(`the job id is not valid UTF-8, so no client could address it: renamed to "${l.id}" ("#invalid-utf8:" + the id, bytes outside printable ASCII and "%" as %XX)`), l.attempt);
      p.logger.warn(`job ${l.id} sent to the dead letters (malformed_job): ${error.message}`, { queue });
      // The name from the envelope's head, never a parse: the stored job may be megabytes (then only its head came).
      const { job: name } = headFieldsOf(l.raw ?? l.tooBig?.head ?? '');
      p.events.emit('dead', { job: leasedRef(queue, l, name), reason: 'malformed_job', error });
      return undefined;
    }
    // Size and depth are checked on the text, before anything parses it (JSON.parse of megabytes blocks the loop).
    // (Redis sends only the size and head of a job over the limit: `tooBig`.)
    const hostile =
      l.tooBig !== undefined
        ? storedJobTooBig(l.tooBig.bytes, l.tooBig.head, p.maxEnvelopeBytes)
        : l.raw === null
          ? undefined
          : checkStoredJob(l.raw, p.maxEnvelopeBytes);
    if (hostile !== undefined) {
      // The jobs hash keeps the stored text; the copy sent along (kept only if that entry is gone) is cut short.
      const raw = truncateBytes(l.raw ?? '', MAX_DEAD_INFO_BYTES);
      if (hostile.job === undefined) {
        // Not an envelope jobcraft writes (no readable name): malformed, whatever its payload would have been.
        dead.toDead(k, leasedRef(queue, l), l.attempt, 'malformed_job', new Error(`not a jobcraft job: ${hostile.issue.message}`), { raw });
        return undefined;
      }
      // A renamed job's old name (an alias) is named as the new job, as for a job that decodes.
      const known = jobNamed(p.jobSet, hostile.job);
      const name = known !== undefined && known.queue === queue ? known.name : hostile.job;
      const err = new JobValidationError(name, [hostile.issue], 'dequeue');
      // Released like any dead job's: its unique lock (key read from the head) and its type's concurrency slot.
      const lock = hostile.unique === undefined ? undefined : k.uniquePrefix + hostile.unique;
      const slot = known !== undefined && known.queue === queue ? this.throttleOf(queue, known.name).slot : undefined;
      // A fan-in child still ends for its parent (which would otherwise wait for ever): its link is read from the text.
      const link = faninLinkOfHead(l.raw ?? l.tooBig?.head ?? '');
      const handoff = link === undefined ? undefined : faninFailure(l.id, link, Date.now());
      const publish = known !== undefined && known.queue === queue ? deathChannel(known, k) : undefined;
      dead.toDead(k, leasedRef(queue, l, name), l.attempt, 'invalid_payload', err, { raw, issues: err.issues, lock, slot, publish, handoff });
      return undefined;
    }
    const decoded = decodeEnvelope(l.raw);
    if (!decoded.ok) {
      dead.toDead(k, leasedRef(queue, l), l.attempt, 'malformed_job', new Error(decoded.reason), { raw: l.raw ?? '' });
      return undefined;
    }
    const env = decoded.envelope;
    // An old name (a renamed job's alias) is looked up only on a miss: the hot path costs one lookup.
    const job = storedJobOf(p.jobSet, env.n, queue);
    if (typeof job === 'string') {
      // A fan-in child this worker cannot run still ends for its parent (which would otherwise wait for ever).
      const link = env.fi === undefined ? undefined : parseFaninLink(env.fi);
      const handoff = link === undefined || typeof link === 'string' ? undefined : faninFailure(l.id, link, Date.now());
      dead.toDead(k, leasedRef(queue, l, env.n), l.attempt, 'unknown_job', new Error(job), { raw: l.raw ?? '', handoff });
      return undefined;
    }
    const maxAttempts = env.a ?? job.attempts;
    const lock = env.u === undefined ? undefined : k.uniquePrefix + env.u;
    const { typeIndex, slot } = this.throttleOf(queue, job.name);
    let chain: ChainLink | undefined;
    if (env.ch !== undefined) {
      // A chain step (docs/results.md, "Chains"): only a job with a result can hand one on; a record that cannot be
      // read would end the chain silently, so the step goes to the dead letters instead.
      const link = parseChainLink(env.ch);
      const problem = typeof link === 'string' ? link : job.result === undefined ? `it is a step of chain ${JSON.stringify(link.id)} with a next step, but job "${job.name}" declares no result to hand on` : undefined;
      if (problem !== undefined) {
        dead.toDead(k, leasedRef(queue, l, job.name, maxAttempts), l.attempt, 'malformed_job', new Error(`job ${JSON.stringify(l.id)} cannot run as a chain step: ${problem}`), { raw: l.raw ?? '', lock, slot, publish: deathChannel(job, k) });
        return undefined;
      }
      chain = link as ChainLink;
    }
    let fanin: FaninLink | undefined;
    if (env.fi !== undefined) {
      // A fan-in child (docs/results.md, "Fan-in"): it must hand a result to its parent; a record that cannot be read
      // would leave the parent waiting for ever, so the child goes to the dead letters (its parent records a failure).
      const link = parseFaninLink(env.fi);
      const problem = typeof link === 'string' ? link : job.result === undefined ? `it is a child of ${JSON.stringify(link.id)}, but job "${job.name}" declares no result to hand to it` : undefined;
      if (problem !== undefined) {
        const handoff = typeof link === 'string' ? undefined : faninFailure(l.id, link, Date.now());
        dead.toDead(k, leasedRef(queue, l, job.name, maxAttempts), l.attempt, 'malformed_job', new Error(`job ${JSON.stringify(l.id)} cannot run as a fan-in child: ${problem}`), { raw: l.raw ?? '', lock, slot, publish: deathChannel(job, k), handoff });
        return undefined;
      }
      fanin = link as FaninLink;
    }
    // A fan-in child dead-lettered here still ends for its parent, as a failure.
    const childFailed = (): Handoff | undefined => (fanin === undefined ? undefined : faninFailure(l.id, fanin, Date.now()));
    let payload: unknown = env.p;
    if (stage === 'dequeue') {
      let parsed: StoredPayloadResult;
      try {
        parsed = parseStoredPayload(job, env);
      } catch (thrown) {
        // A transform or refine of the schema threw (not a validation issue): the payload cannot be read either.
        const err = thrown instanceof Error ? thrown : new Error(String(thrown));
        dead.toDead(k, leasedRef(queue, l, job.name, maxAttempts), l.attempt, 'invalid_payload', err, { raw: l.raw ?? '', lock, slot, publish: deathChannel(job, k), handoff: childFailed() });
        return undefined;
      }
      if (!parsed.success && parsed.newer !== undefined) {
        // Written by a newer producer (a rolling deploy): not run, not lost; retried until a worker knows its version.
        p.logger.warn(`job ${l.id} (${job.name}) not run: ${parsed.newer.message}`, { queue });
        p.failAttempt(this.runOf(queue, l, job, env, env.p, maxAttempts, lock, typeIndex, slot, 'recovery', chain, fanin), parsed.newer);
        return undefined;
      }
      if (!parsed.success) {
        const err = new JobValidationError(job.name, parsed.issues, 'dequeue');
        // The error's issues are bounded (at most 20, each short): stored once, next to a message listing the first.
        dead.toDead(k, leasedRef(queue, l, job.name, maxAttempts), l.attempt, 'invalid_payload', err, { raw: l.raw ?? '', issues: err.issues, lock, slot, publish: deathChannel(job, k), handoff: childFailed() });
        return undefined;
      }
      payload = parsed.data;
      if (lock !== undefined && job.unique?.until === 'start') {
        p.track(p.scripts.uniqueRelease(lock, { id: l.id })).catch((e: unknown) => p.reportError(e, `releasing the unique lock of job ${l.id}`));
      }
    }
    return this.runOf(queue, l, job, env, payload, maxAttempts, lock, typeIndex, slot, stage, chain, fanin);
  }

  /** The run of a leased job (every run has the same shape from the start). */
  private runOf(
    queue: string,
    l: LeasedJob,
    job: ResolvedJob,
    env: Envelope,
    payload: unknown,
    maxAttempts: number,
    lock: string | undefined,
    typeIndex: number,
    slot: Slot | undefined,
    stage: 'dequeue' | 'recovery',
    chain: ChainLink | undefined,
    fanin: FaninLink | undefined,
  ): JobRun {
    return {
      id: l.id,
      queue,
      attempt: l.attempt,
      maxAttempts,
      job,
      envelope: env,
      payload,
      controller: undefined,
      lock: job.unique?.until === 'start' && stage === 'dequeue' ? undefined : lock,
      typeIndex,
      slot,
      state: 'buffered',
      startedAt: 0,
      // Set here so every run has the same shape from the start (a field added later slows every hot-path access).
      endedAt: 0,
      deadline: Infinity,
      resultJson: undefined,
      chain,
      fanin,
      handoff: undefined,
      returned: undefined,
      timer: undefined,
    };
  }
}
