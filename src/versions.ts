/**
 * Versioned payloads (docs/contracts.md, "Versioned payloads"): a job's `payload` is its current schema; its earlier
 * schemas are listed in `versions`, oldest first, each with the migration (upcast) to the next one. Version numbers
 * are 1-based: the first earlier version is 1 and the current one is `versions.length + 1`; a job without `versions`
 * is version 1. A stored job records the version it was written with (the envelope's `v`, absent for 1); the worker
 * parses it with that version's schema and migrates it up to the current one before the handler runs.
 *
 * The types here check every migration against its neighbours (see {@link VersionsMatch}); {@link payloadVersion}
 * types a migration's parameter from its schema, so that it needs no annotation.
 */
import type * as z from 'zod';
import type { ResolvedJob } from './job-options.js';
import type { PayloadJob } from './payload.js';

/**
 * An earlier version of a job's payload: its schema, and the migration from it to the next version (the next entry
 * of `versions`, or the current `payload` after the last one). The migration receives the payload as this version's
 * schema parsed it (`z.output`) and returns the next version's input (`z.input`), which the next schema then parses.
 * It must be synchronous and pure: it runs at every dequeue of a job stored with this version.
 */
export interface PayloadVersion<S extends z.core.$ZodType = z.core.$ZodType, R = unknown> {
  /** The schema of this version's payload. */
  readonly payload: S;
  /** From this version's output to the next version's input. */
  readonly migrate: (payload: z.output<S>) => R;
}

/**
 * One entry of a job's `versions`, with the migration's parameter typed by `payload` (no annotation needed); what
 * it returns is checked against the next version by `defineJobs`.
 *
 * @example
 * versions: [
 *   payloadVersion(v1, (p) => ({ to: [p.to] })),            // 1 → 2
 *   payloadVersion(v2, (p) => ({ ...p, subject: '(none)' })), // 2 → the current payload (3)
 * ]
 */
export function payloadVersion<S extends z.core.$ZodType, R>(payload: S, migrate: (payload: z.output<S>) => R): PayloadVersion<S, R> {
  return { payload, migrate };
}

/** An entry of `versions` as `defineJobs` constrains it before the migration is checked against its neighbours. */
// `never` as the parameter: any migration is assignable; an unannotated one outside payloadVersion gets no type.
export interface AnyPayloadVersion {
  readonly payload: z.core.$ZodType;
  readonly migrate: (payload: never) => unknown;
}

/** The schemas of a list of versions. */
type SchemasOf<V extends readonly unknown[]> = { [I in keyof V]: V[I] extends { readonly payload: infer S } ? S : never };

/** Each version's next schema: the following entry's, and the current payload after the last. */
type NextSchemas<V extends readonly unknown[], C> = V extends readonly [unknown, ...infer R] ? [...SchemasOf<R>, C] : [C];

/** `versions` with each migration typed from its version's output to the next version's input. */
export type CheckedVersions<V extends readonly AnyPayloadVersion[], C extends z.core.$ZodType> = {
  readonly [I in keyof V]: {
    readonly payload: V[I]['payload'];
    readonly migrate: (payload: z.output<V[I]['payload']>) => z.input<Extract<NextSchemas<V, C>[I & keyof NextSchemas<V, C>], z.core.$ZodType>>;
  };
};

/** The version numbers of a job with earlier versions `V`: 1 to `V.length + 1`. */
export type VersionNumber<V extends readonly unknown[]> = Lengths<[...V, unknown]>;
type Lengths<T extends readonly unknown[]> = T extends readonly [unknown, ...infer R] ? T['length'] | Lengths<R> : never;

/** The earlier versions a definition declares (an empty list when none). */
export type VersionsOf<Def> = Def extends { readonly versions: infer V extends readonly AnyPayloadVersion[] } ? V : [];

/** The schema of version `N` of a definition (1-based; the current one is its `payload`). */
export type VersionSchema<Def extends { readonly payload: z.core.$ZodType }, N extends number> = Extract<
  [never, ...SchemasOf<VersionsOf<Def>>, Def['payload']][N],
  z.core.$ZodType
>;

/** The schema producers write with: version `emitVersion` when the definition pins one, else the current `payload`. */
export type EmitSchema<Def extends { readonly payload: z.core.$ZodType }> = Def extends { readonly emitVersion: infer E extends number }
  ? VersionSchema<Def, E>
  : Def['payload'];

/**
 * Makes each job's migrations type-check: version k's migration takes version k's output and returns version
 * k + 1's input (the current payload's after the last), and `emitVersion` names a version the job has.
 */
export type VersionsMatch<D> = {
  readonly [N in keyof D]: D[N] extends { readonly payload: infer C extends z.core.$ZodType; readonly versions: infer V extends readonly AnyPayloadVersion[] }
    ? { readonly versions: CheckedVersions<V, C>; readonly emitVersion?: VersionNumber<V> }
    : { readonly emitVersion?: 1 };
};

/**
 * The job with the schema its producers write: version `emitVersion` (the job itself when that is the current one).
 * Every writer of a new job validates its payload with this and writes `job.emitVersion` as the envelope's version
 * (`encodeEnvelope`'s `version`; omitted when 1), so that workers read it with the schema it was validated with.
 */
export function emitPayloadJob(job: ResolvedJob): PayloadJob {
  if (job.emitVersion === job.version) return job;
  return { name: job.name, schema: (job.versions[job.emitVersion - 1] as ResolvedJob['versions'][number]).schema, option: `versions[${job.emitVersion - 1}].payload` };
}
