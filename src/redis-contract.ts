/**
 * The TypeScript ↔ Lua contract: every script's KEYS and ARGV, declared once, by name. Both sides are derived from
 * these declarations and nothing else knows an offset:
 * - {@link encodeCall} builds a call's KEYS and ARGV from named inputs (src/scripts.ts);
 * - {@link luaPrelude} writes the Lua that reads them back by name (`K.active`, `A.leaseMs`, `G.acks.id(i)`), placed
 *   after each script's shebang and _lib.lua when the script text is built (once, at load).
 * test/unit/redis-contract.test.ts checks that every name a script reads is declared and every declared input read.
 *
 * Wire layout (docs/redis-layout.md, "The contract"):
 * - KEYS: the fixed keys in declared order, then each group's item keys, group after group, item after item.
 * - ARGV: the fixed arguments in declared order, then one count per group (in declared order), then each group's
 *   item arguments, group after group, item after item.
 * - Optional inputs have one encoding: an optional key or argument is a group of 0 or 1 items (`optional`), its count
 *   in ARGV — never a placeholder value or a duplicated key. A per-item optional key (the unique lock of one
 *   acknowledged job) goes into a keys group of its own (`filled`), and the item's `ref` argument holds its 1-based
 *   index there (0 = none).
 */

/**
 * How Lua reads an argument: `num` as a number (`tonumber`), `raw` as the string sent (fence tokens such as an
 * attempt number are compared with stored text, so they stay strings), `{ ref }` as the key at this 1-based index
 * in the keys group `ref`, or nil for 0 (TypeScript passes the key itself, or undefined).
 */
export type ArgKind = 'num' | 'raw' | { readonly ref: string };

/** A variable-length part of a call: items of the same keys and arguments. */
export interface GroupDecl {
  /** Each item's keys, in order. */
  readonly keys?: readonly string[];
  /** Each item's arguments, in order. */
  readonly args?: Readonly<Record<string, ArgKind>>;
  /** 0 or 1 item: an optional key or argument. Lua sees the item's fields as a table, or nil. */
  readonly optional?: true;
  /** The item's keys are read from its `keys` object (a throttled type's TypeKeys). */
  readonly keysIn?: 'keys';
  /** A keys-only group filled by the `ref` arguments of an earlier group (not given by the caller). */
  readonly filled?: true;
}

/** One script: its file in src/lua, its fixed keys and arguments, and its groups. */
export interface ScriptDecl {
  readonly file: string;
  readonly keys: readonly string[];
  readonly args: Readonly<Record<string, ArgKind>>;
  readonly groups: Readonly<Record<string, GroupDecl>>;
}

/** A throttled job type (see src/throttle.ts), as every script that leases or makes jobs ready reads it. */
const TYPES = {
  keysIn: 'keys',
  keys: ['ready', 'running', 'starts'],
  args: { name: 'raw', concurrency: 'num', rateMax: 'num', ratePerMs: 'num' },
} as const satisfies GroupDecl;

/** The keys a dead letter is written with (dead.lua, and the renaming of ids that are not UTF-8). */
const DEAD_KEYS = ['active', 'jobs', 'attempts', 'errors', 'dead', 'deadInfo', 'deadOrder', 'notify'] as const;

/** A throttled type's concurrency slot held by one job: its running and ready sets. */
const SLOT = { optional: true, keys: ['running', 'ready'] } as const satisfies GroupDecl;
/** A unique job's lock. */
const LOCK = { optional: true, keys: ['lock'] } as const satisfies GroupDecl;

/**
 * History counters a call adds (docs/operations.md, "Data"): the minute and hour bucket keys and how long each lives
 * from now (ms), then `counts`, field and increment per item (the completer's aggregate).
 */
const HISTORY = { optional: true, keys: ['minute', 'hour'], args: { minuteTtlMs: 'num', hourTtlMs: 'num' } } as const satisfies GroupDecl;
const COUNTS = { args: { field: 'raw', by: 'num' } } as const satisfies GroupDecl;
/** The results channel of the queue, for a job whose type declares a result: its end is announced there (docs/results.md). */
const PUBLISH = { optional: true, args: { channel: 'raw' } } as const satisfies GroupDecl;

/** Every script's declaration, by script name. The Lua of each lives in src/lua/<file>.lua. */
export const CONTRACT = {
  enqueue: {
    file: 'enqueue',
    keys: ['jobs', 'wait', 'prio', 'scheduled', 'notify', 'seq', 'done', 'dead', 'paused', 'cron'],
    // delayMs 0 = ready now; idPrefix '' = ids are given.
    args: { delayMs: 'num', priority: 'num', idPrefix: 'raw' },
    groups: {
      /** A throttled job type's ready set: every job goes there, scored by priority (instead of wait/prio). */
      typeReady: { optional: true, keys: ['ready'] },
      /** A cron firing: written only if the job's last firing is still `expected` ('' = none), then set to `next`. */
      cron: { optional: true, args: { name: 'raw', expected: 'raw', next: 'raw' } },
      /** Unique jobs: the lock TTL; `locks` then holds job i's lock as item i. */
      unique: { optional: true, args: { ttlMs: 'num' } },
      locks: { keys: ['lock'] },
      /** The jobs: id ('' = generate), envelope. */
      items: { args: { id: 'raw', envelope: 'raw' } },
    },
  },
  fetch: {
    file: 'fetch',
    keys: ['wait', 'prio', 'scheduled', 'active', 'jobs', 'attempts', 'errors', 'notify', 'done', 'doneOrder', 'seq', 'paused'],
    // maxEnvelopeBytes: envelopes over it are sent as {size, head} (0 = no limit).
    args: { want: 'num', leaseMs: 'num', keepCount: 'num', keepAgeMs: 'num', maxEnvelopeBytes: 'num' },
    groups: {
      types: TYPES,
      /** Finished jobs that hold neither a unique lock nor a type's slot (most of them): fenced by attempt. */
      acks: { args: { id: 'raw', attempt: 'raw' } },
      /**
       * Finished jobs that hold a unique lock or a throttled type's slot: the lock (a ref into `locks`), and
       * typeIndex = 1-based index among `types` (0 = none). Kept apart so a plain ack costs two arguments.
       */
      heldAcks: { args: { id: 'raw', attempt: 'raw', lock: { ref: 'locks' }, typeIndex: 'num' } },
      locks: { filled: true, keys: ['lock'] },
      /** The history of the acknowledged runs (their aggregate: a few counters per job type, not per job). */
      history: HISTORY,
      counts: COUNTS,
      /**
       * The results of acknowledged jobs whose type declares one (docs/results.md): each job's result key, its id
       * (the job is also in `acks` or `heldAcks`: a result is stored only if that ack is not stale), the JSON, how
       * long to keep it, and the channel announcing it. Empty (one count in ARGV) for every other job.
       */
      results: { keys: ['result'], args: { id: 'raw', json: 'raw', ttlMs: 'num', channel: 'raw' } },
      /**
       * Chain hand-offs (docs/results.md, "Chains"): per acknowledged chain step (also in `acks`/`heldAcks`, and in
       * `results`), its queue's outbox, its id, the next step's id and the outbox entry creating it. Recorded only if
       * the ack is not stale. Empty (one count in ARGV) for every call without a chain step.
       */
      handoffs: { keys: ['outbox'], args: { id: 'raw', next: 'raw', entry: 'raw' } },
    },
  },
  invalidIds: {
    file: 'invalid-ids',
    keys: DEAD_KEYS,
    args: { expiry: 'raw', maxDead: 'num', uniquePrefix: 'raw', maxEnvelopeBytes: 'num' },
    groups: { types: TYPES, suspects: { args: { id: 'raw' } } },
  },
  renew: {
    file: 'renew',
    keys: ['active', 'attempts'],
    args: { leaseMs: 'num' },
    groups: {
      types: { keysIn: 'keys', keys: ['running'] },
      /** type = 1-based index among `types` whose slot to extend (0 = none). */
      held: { args: { id: 'raw', attempt: 'raw', type: 'num' } },
    },
  },
  recover: {
    file: 'recover',
    keys: DEAD_KEYS,
    args: { leaseMs: 'num', max: 'num', maxDead: 'num', uniquePrefix: 'raw', maxEnvelopeBytes: 'num' },
    groups: { types: TYPES },
  },
  reschedule: {
    file: 'reschedule',
    keys: ['active', 'attempts', 'errors', 'scheduled', 'notify'],
    // giveAttemptBack: '1' for a snooze.
    args: { id: 'raw', attempt: 'raw', delayMs: 'num', giveAttemptBack: 'raw' },
    groups: {
      slot: SLOT,
      /** The error record to store (a retry); none keeps the last one (a snooze). */
      error: { optional: true, args: { json: 'raw' } },
      history: HISTORY,
      counts: COUNTS,
    },
  },
  dead: {
    file: 'dead',
    keys: DEAD_KEYS,
    // fallbackEnvelope: what to keep when the jobs hash has no entry for the id.
    args: { id: 'raw', attempt: 'raw', info: 'raw', maxDead: 'num', fallbackEnvelope: 'raw' },
    groups: {
      unique: LOCK,
      slot: SLOT,
      history: HISTORY,
      counts: COUNTS,
      publish: PUBLISH,
      /** A fan-in child's hand-off (its failure, for its parent), recorded in its queue's outbox with the death. */
      handoff: { optional: true, keys: ['outbox'], args: { next: 'raw', entry: 'raw' } },
    },
  },
  release: {
    file: 'release',
    keys: ['active', 'attempts', 'wait', 'prio', 'notify'],
    args: {},
    groups: {
      types: TYPES,
      /** type = 1-based index among `types` (0 = none). */
      jobs: { args: { id: 'raw', attempt: 'raw', priority: 'num', type: 'num' } },
    },
  },
  get: {
    file: 'get',
    keys: ['jobs', 'active', 'scheduled', 'attempts', 'errors', 'done', 'dead', 'deadInfo'],
    args: { id: 'raw' },
    groups: {},
  },
  deadRetry: {
    file: 'dead-retry',
    keys: ['dead', 'deadInfo', 'deadOrder', 'jobs', 'wait', 'prio', 'notify', 'seq', 'errors'],
    args: {},
    groups: {
      types: TYPES,
      /** lock: the unique lock to take again (ref into `locks`), for ttlMs. */
      letters: { args: { id: 'raw', lock: { ref: 'locks' }, ttlMs: 'raw' } },
      locks: { filled: true, keys: ['lock'] },
    },
  },
  deadDelete: {
    file: 'dead-delete',
    keys: ['dead', 'deadInfo', 'deadOrder'],
    args: {},
    groups: { ids: { args: { id: 'raw' } } },
  },
  cancel: {
    file: 'cancel',
    keys: ['jobs', 'wait', 'prio', 'scheduled', 'active', 'attempts', 'errors'],
    args: { id: 'raw' },
    groups: {
      typeReady: { optional: true, keys: ['ready'] },
      unique: LOCK,
      publish: PUBLISH,
      /** A fan-in child's end (cancelled: failed, for its parent), recorded in its queue's outbox with the cancel. */
      handoff: { optional: true, keys: ['outbox'], args: { next: 'raw', entry: 'raw' } },
    },
  },
  result: {
    file: 'result',
    // One job's result, or what became of it (docs/results.md): read together, so a completion cannot fall between.
    // fanin: the job's fan-in record, if it is a fan-in's parent whose children still run (it is live then).
    keys: ['result', 'jobs', 'dead', 'deadInfo', 'done', 'fanin'],
    args: { id: 'raw' },
    groups: {},
  },
  faninCreate: {
    file: 'fanin-create',
    // A fan-in's record and its children's hand-offs (docs/results.md, "Fan-in"), in the parent queue's slot.
    keys: ['fanin', 'outbox', 'jobs', 'done', 'dead'],
    // head/tail: the parent's envelope before and after its children's results (a JSON array goes between).
    args: { parent: 'raw', policy: 'raw', head: 'raw', tail: 'raw', priority: 'num' },
    groups: { children: { args: { id: 'raw', entry: 'raw' } } },
  },
  faninRecord: {
    file: 'fanin-record',
    // How one child ended; the last one creates the parent (or dead-letters it under policy 'fail').
    keys: ['fanin', 'jobs', 'wait', 'prio', 'seq', 'notify', 'paused', 'dead', 'deadInfo', 'deadOrder'],
    // value: the child's result JSON (output form), '' = the child failed.
    args: { parent: 'raw', index: 'num', value: 'raw', maxDead: 'num' },
    groups: { publish: PUBLISH },
  },
  uniqueRelease: {
    file: 'unique-release',
    keys: ['lock'],
    args: { id: 'raw' },
    groups: {},
  },
  resume: {
    file: 'resume',
    keys: ['paused', 'wait', 'prio', 'notify'],
    args: {},
    groups: { types: { keysIn: 'keys', keys: ['ready'] } },
  },
  stats: {
    file: 'stats',
    keys: ['wait', 'prio', 'scheduled', 'active', 'jobs', 'errors', 'done', 'dead', 'paused'],
    args: {},
    /** The ready sets of the queue's throttled types (from the queue registry). */
    groups: { types: { keysIn: 'keys', keys: ['ready'] } },
  },
  heartbeat: {
    file: 'heartbeat',
    keys: ['info', 'beats'],
    // json: the entry, with "lastBeatAt":0 (the script writes Redis's time there); ttlMs: how long it lives.
    args: { id: 'raw', json: 'raw', ttlMs: 'num' },
    groups: {},
  },
  heads: {
    file: 'heads',
    // hash: the jobs hash or the dead letters; bytes: how much of each value to return.
    keys: ['hash'],
    args: { bytes: 'num' },
    groups: { ids: { args: { id: 'raw' } } },
  },
  migrate: {
    file: 'migrate',
    // hash: the queue's jobs hash or its dead letters; active: the queue's leases (a leased id is never rewritten).
    keys: ['hash', 'active'],
    args: {},
    groups: { items: { args: { id: 'raw', expected: 'raw', envelope: 'raw' } } },
  },
  workers: {
    file: 'workers',
    keys: ['info', 'beats'],
    args: {},
    groups: {},
  },
} as const satisfies Record<string, ScriptDecl>;

export type ScriptName = keyof typeof CONTRACT;
/** One argument as sent. */
export type Arg = string | number;

// ---- The TypeScript side: named inputs → KEYS and ARGV. ----

type Names<L> = L extends readonly (infer N extends string)[] ? N : never;
type KeyNames<G> = G extends { readonly keys: infer L } ? Names<L> : never;
type ArgDecls<G> = G extends { readonly args: infer A } ? A : {};
type RefNames<A> = { [N in keyof A]: A[N] extends { readonly ref: string } ? N : never }[keyof A];

/** One item of a group: its keys (under `keys` for a group with `keysIn`) and arguments, by name. */
export type ItemInput<G> = (G extends { readonly keysIn: 'keys' }
  ? { readonly keys: { readonly [K in KeyNames<G>]: string } }
  : { readonly [K in KeyNames<G>]: string }) & { readonly [N in Exclude<keyof ArgDecls<G>, RefNames<ArgDecls<G>>>]: Arg } & {
  readonly [N in RefNames<ArgDecls<G>>]?: string | undefined;
};

/** Items of a group given pre-flattened, in declared field order (only for a group of keys only or arguments only). */
export interface Flat {
  readonly flat: readonly Arg[];
}

/** What the caller gives for each group of a script. */
export type GroupsInput<D extends ScriptDecl> = {
  readonly [N in keyof D['groups'] as D['groups'][N] extends { readonly filled: true } ? never : N]: D['groups'][N] extends {
    readonly optional: true;
  }
    ? ItemInput<D['groups'][N]> | undefined
    : readonly ItemInput<D['groups'][N]>[] | Flat;
};
export type KeysInput<D extends ScriptDecl> = { readonly [K in Names<D['keys']>]: string };
export type ArgsInput<D extends ScriptDecl> = { readonly [N in keyof D['args']]: Arg };

interface GroupPlan {
  readonly name: string;
  readonly keys: readonly string[];
  readonly args: readonly string[];
  readonly kinds: readonly ArgKind[];
  /** Per argument: the index of the group its ref points into, or -1. */
  readonly refs: readonly number[];
  readonly hasRef: boolean;
  readonly optional: boolean;
  readonly keysIn: boolean;
  readonly filled: boolean;
}

/** A declaration in the form the encoder and the prelude walk: plain arrays, checked once. */
export interface Plan {
  readonly name: string;
  readonly file: string;
  readonly keys: readonly string[];
  readonly args: readonly string[];
  readonly kinds: readonly ArgKind[];
  readonly groups: readonly GroupPlan[];
}

/** Checks a declaration and turns it into a {@link Plan}. */
export function planOf(name: string, d: ScriptDecl): Plan {
  const groupNames = Object.keys(d.groups);
  const groups = groupNames.map((g, gi): GroupPlan => {
    const decl = d.groups[g] as GroupDecl;
    const args = Object.keys(decl.args ?? {});
    const kinds = args.map((a) => (decl.args as Record<string, ArgKind>)[a] as ArgKind);
    const refs = kinds.map((k) => {
      if (typeof k === 'string') return -1;
      const target = groupNames.indexOf(k.ref);
      const t = d.groups[k.ref];
      if (target <= gi || t?.filled !== true || (t.args !== undefined && Object.keys(t.args).length > 0) || t.keys?.length !== 1) {
        throw new Error(`contract ${name}: ${g} refers to ${k.ref}, which must be a later "filled" group of one key`);
      }
      return target;
    });
    return { name: g, keys: decl.keys ?? [], args, kinds, refs, hasRef: refs.some((r) => r >= 0), optional: decl.optional === true, keysIn: decl.keysIn === 'keys', filled: decl.filled === true };
  });
  const args = Object.keys(d.args);
  return { name, file: d.file, keys: d.keys, args, kinds: args.map((a) => d.args[a] as ArgKind), groups };
}

export const PLANS: { readonly [N in ScriptName]: Plan } = Object.fromEntries(
  Object.entries(CONTRACT).map(([n, d]) => [n, planOf(n, d)]),
) as { [N in ScriptName]: Plan };

/** A call's KEYS and ARGV. */
export interface Encoded {
  readonly keys: string[];
  readonly args: Arg[];
}

function missing(plan: Plan, what: string): never {
  throw new Error(`jobcraft: the ${plan.name} script call is missing ${what}`);
}

type Loose = Readonly<Record<string, unknown>>;

/**
 * Builds the KEYS and ARGV of one call from named inputs, following the declaration (straight loops over its
 * names; the only allocations are the two arrays, and one list per filled group when refs are given).
 */
export function encodeCall<N extends ScriptName>(
  name: N,
  keysIn: KeysInput<(typeof CONTRACT)[N]>,
  argsIn: ArgsInput<(typeof CONTRACT)[N]>,
  groupsIn: GroupsInput<(typeof CONTRACT)[N]>,
): Encoded {
  return encodePlan(PLANS[name], keysIn, argsIn, groupsIn);
}

/** {@link encodeCall} on a plan, untyped (for the contract's own test). */
export function encodePlan(plan: Plan, keysInput: object, argsInput: object, groupsInput: object): Encoded {
  const keysIn = keysInput as Loose;
  const argsIn = argsInput as Loose;
  const groupsIn = groupsInput as Loose;
  const keys: string[] = [];
  for (const k of plan.keys) {
    const v = keysIn[k];
    if (typeof v !== 'string') missing(plan, `key ${k}`);
    keys.push(v);
  }
  const args: Arg[] = [];
  for (const a of plan.args) {
    const v = argsIn[a];
    if (v === undefined) missing(plan, `argument ${a}`);
    args.push(v as Arg);
  }
  const countAt = args.length;
  const groups = plan.groups;
  for (let g = 0; g < groups.length; g++) args.push(0);
  let filled: string[][] | undefined;
  for (let g = 0; g < groups.length; g++) {
    const gp = groups[g] as GroupPlan;
    if (gp.filled) {
      const list = filled?.[g];
      if (list !== undefined) {
        for (const k of list) keys.push(k);
        args[countAt + g] = list.length;
      }
      continue;
    }
    const input = groupsIn[gp.name];
    if (input === undefined) continue;
    if (gp.optional) {
      pushItem(plan, gp, input as Loose, keys, args);
      args[countAt + g] = 1;
      continue;
    }
    if (!Array.isArray(input)) {
      const flat = (input as Flat).flat;
      const keyed = gp.keys.length > 0;
      const per = keyed ? gp.keys.length : gp.args.length;
      if (keyed === gp.args.length > 0 || flat.length % per !== 0) missing(plan, `whole items in the flat ${gp.name}`);
      const into: Arg[] = keyed ? keys : args;
      for (const v of flat) into.push(v);
      args[countAt + g] = flat.length / per;
      continue;
    }
    // Refs: the key goes into its filled group, the item carries its 1-based index there (0 = none).
    if (gp.hasRef) filled ??= [];
    for (const item of input as readonly Loose[]) pushItem(plan, gp, item, keys, args, filled);
    args[countAt + g] = (input as readonly unknown[]).length;
  }
  return { keys, args };
}

function pushItem(plan: Plan, gp: GroupPlan, item: Loose, keys: string[], args: Arg[], filled?: string[][]): void {
  if (gp.keys.length > 0) {
    const from = (gp.keysIn ? item['keys'] : item) as Loose;
    for (const k of gp.keys) {
      const v = from[k];
      if (typeof v !== 'string') missing(plan, `${gp.name} key ${k}`);
      keys.push(v);
    }
  }
  for (let f = 0; f < gp.args.length; f++) {
    const name = gp.args[f] as string;
    const v = item[name];
    const ref = gp.refs[f] as number;
    if (ref < 0) {
      if (v === undefined) missing(plan, `${gp.name} argument ${name}`);
      args.push(v as Arg);
    } else if (v === undefined) {
      args.push(0);
    } else {
      const list = ((filled as string[][])[ref] ??= []);
      list.push(v as string);
      args.push(list.length);
    }
  }
}

// ---- The Lua side: the prelude that reads KEYS and ARGV by name. ----

function luaRead(kind: ArgKind, at: string): string {
  return kind === 'num' ? `tonumber(ARGV[${at}])` : `ARGV[${at}]`;
}

/**
 * The Lua placed ahead of a script's own code: `K` (fixed keys by name), `A` (fixed arguments by name, `num` ones as
 * numbers) and `G` (per group: `n`, the item count, and per field a function of the 1-based item index that returns
 * nil outside 1..n, and `row(i)`: all of them at once, keys then arguments in declared order; an optional group is
 * its item's fields as a table, or nil). Generated from the declaration: the offsets exist only here. `used` says
 * whether the script's code calls an accessor of that name (a closure made on every call is left out otherwise).
 */
export function luaPrelude(plan: Plan, used: (accessor: string) => boolean = () => true): string {
  const lines = [`-- KEYS and ARGV by name, generated from the "${plan.name}" declaration in src/redis-contract.ts.`];
  if (plan.keys.length > 0) lines.push(`local K = { ${plan.keys.map((k, i) => `${k} = KEYS[${i + 1}]`).join(', ')} }`);
  if (plan.args.length > 0) lines.push(`local A = { ${plan.args.map((a, i) => `${a} = ${luaRead(plan.kinds[i] as ArgKind, String(i + 1))}`).join(', ')} }`);
  if (plan.groups.length === 0) return `${lines.join('\n')}\n`;
  const countAt = plan.args.length;
  // Offsets first (each group's follow the one before it), then G in one table constructor: built at its final size.
  lines.push('local G', 'do', `  local k, a = ${plan.keys.length}, ${countAt + plan.groups.length}`);
  plan.groups.forEach((g, gi) => {
    const v = gi + 1;
    lines.push(`  local n${v}, k${v}, a${v} = tonumber(ARGV[${countAt + gi + 1}]), k, a`);
    if (g.keys.length > 0 && gi < plan.groups.length - 1) lines.push(`  k = k + n${v} * ${g.keys.length}`);
    if (g.args.length > 0 && gi < plan.groups.length - 1) lines.push(`  a = a + n${v} * ${g.args.length}`);
  });
  const withRow = (g: GroupPlan): boolean => g.keys.length + g.args.length > 1 && used('row');
  // The key a ref argument points at in its (filled, one-key) group, or nil for 0.
  const refKey = (target: number, arg: string): string => `ref${target + 1}(${arg})`;
  plan.groups.forEach((g, gi) => {
    if (g.filled) lines.push(`  local function ref${gi + 1}(r) r = tonumber(r); if r > 0 and r <= n${gi + 1} then return KEYS[k${gi + 1} + r] end end`);
  });
  lines.push('  G = {');
  plan.groups.forEach((g, gi) => {
    const v = gi + 1;
    const n = `n${v}`;
    const kStep = g.keys.length;
    const aStep = g.args.length;
    const keyAt = (f: number): string => `KEYS[k${v} + (i - 1) * ${kStep} + ${f + 1}]`;
    const argAt = (f: number): string => `a${v} + (i - 1) * ${aStep} + ${f + 1}`;
    if (g.optional) {
      const fields = [
        ...g.keys.map((k, f) => `${k} = KEYS[k${v} + ${f + 1}]`),
        ...g.args.map((a, f) => `${a} = ${luaRead(g.kinds[f] as ArgKind, `a${v} + ${f + 1}`)}`),
      ];
      lines.push(`    ${g.name} = ${n} > 0 and { ${fields.join(', ')} } or nil,`);
      return;
    }
    const fields = [`n = ${n}`];
    const row = withRow(g);
    g.keys.forEach((k, f) => {
      if (used(k)) fields.push(`${k} = function(i) if i <= ${n} then return ${keyAt(f)} end end`);
    });
    g.args.forEach((a, f) => {
      const kind = g.kinds[f] as ArgKind;
      if (!used(a)) return;
      if (typeof kind === 'string') {
        fields.push(`${a} = function(i) if i <= ${n} then return ${luaRead(kind, argAt(f))} end end`);
      } else {
        fields.push(`${a} = function(i) if i <= ${n} then return ${refKey(g.refs[f] as number, `ARGV[${argAt(f)}]`)} end end`);
      }
    });
    // All fields of item i at once, keys then arguments in declared order: one call per item on hot paths.
    const rowFields = [
      ...g.keys.map((_, f) => keyAt(f)),
      ...g.args.map((a, f) => {
        const kind = g.kinds[f] as ArgKind;
        return typeof kind === 'string' ? luaRead(kind, `b + ${f + 1}`) : refKey(g.refs[f] as number, `ARGV[b + ${f + 1}]`);
      }),
    ];
    if (row) fields.push(`row = function(i) if i <= ${n} then local b = a${v} + (i - 1) * ${aStep}; return ${rowFields.join(', ')} end end`);
    lines.push(`    ${g.name} = {`, ...fields.map((f) => `      ${f},`), '    },');
  });
  lines.push('  }');
  lines.push('end');
  return `${lines.join('\n')}\n`;
}
