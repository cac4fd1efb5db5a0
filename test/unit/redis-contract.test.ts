/**
 * The TypeScript ↔ Lua contract (src/redis-contract.ts), without Redis: every script reads its inputs only by the
 * names its declaration gives (no KEYS/ARGV offsets in src/lua), reads every declared input, and a call built from
 * named inputs has the KEYS and ARGV the generated prelude reads back.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { queueKeys, typeKeys } from '../../src/keys.js';
import { CONTRACT, encodeCall, encodePlan, luaPrelude, planOf, PLANS, type Plan } from '../../src/redis-contract.js';
import { scriptSource } from '../../src/scripts.js';
import type { ThrottledType } from '../../src/throttle.js';

const lua = (file: string): string =>
  readFileSync(new URL(`../../src/lua/${file}.lua`, import.meta.url), 'utf8')
    .replace(/--.*$/gm, '')
    .replace(/'[^'\n]*'/g, "''");

const LIB = lua('_lib');

/** _lib.lua's functions: parameters and body. */
const LIB_FUNCTIONS = new Map<string, { params: string[]; body: string }>();
{
  const starts = [...LIB.matchAll(/^local function (\w+)\(([^)]*)\)/gm)];
  starts.forEach((m, i) => {
    const end = i + 1 < starts.length ? (starts[i + 1]?.index as number) : LIB.length;
    LIB_FUNCTIONS.set(m[1] as string, { params: (m[2] as string).split(',').map((p) => p.trim()), body: LIB.slice(m.index, end) });
  });
}

/** The top-level arguments of each call of `name` in `text`. */
function callsOf(text: string, name: string): string[][] {
  const out: string[][] = [];
  for (const m of text.matchAll(new RegExp(`(?<![\\w.])${name}\\(`, 'g'))) {
    let depth = 1;
    let i = (m.index as number) + m[0].length;
    let arg = '';
    const args: string[] = [];
    for (; i < text.length && depth > 0; i++) {
      const c = text[i] as string;
      if (c === '(' || c === '{') depth++;
      if (c === ')' || c === '}') depth--;
      if (depth === 0) break;
      if (c === ',' && depth === 1) {
        args.push(arg.trim());
        arg = '';
      } else {
        arg += c;
      }
    }
    args.push(arg.trim());
    out.push(args);
  }
  return out;
}

/**
 * The names `text` reads: K.x, A.x, G.g and G.g.f (G.g.row reads every field; also through a local alias
 * `local x = G.g`, and through _lib functions given K, A or a group, followed into the functions they call in turn).
 */
function reads(text: string, plan: Plan, seen = new Set<string>()): Set<string> {
  const names = new Set<string>();
  let t = text;
  for (const m of text.matchAll(/local (\w+) = G\.(\w+)\s*$/gm)) {
    t = t.replace(new RegExp(`(?<![\\w.])${m[1]}\\.(\\w+)`, 'g'), `G.${m[2]}.$1`);
  }
  for (const m of t.matchAll(/(?<![\w.])([KA])\.(\w+)/g)) names.add(`${m[1]}.${m[2]}`);
  for (const m of t.matchAll(/(?<![\w.])G\.(\w+)(?:\.(\w+))?/g)) {
    names.add(`G.${m[1]}`);
    if (m[2] === 'row') {
      // All of an item's fields at once.
      const group = plan.groups.find((g) => g.name === m[1]);
      for (const f of [...(group?.keys ?? []), ...(group?.args ?? [])]) names.add(`G.${m[1]}.${f}`);
    } else if (m[2] !== undefined && m[2] !== 'n') {
      names.add(`G.${m[1]}.${m[2]}`);
    }
  }
  for (const [fn, { params, body }] of LIB_FUNCTIONS) {
    for (const args of callsOf(t, fn)) {
      // The parameters given K, A or a group: what the function reads of them, renamed to what the caller passed.
      const given = args.map((arg, i) => [params[i], arg] as const).filter(([p, arg]) => p !== undefined && /^(K|A|G\.\w+)$/.test(arg));
      const key = `${fn}(${given.map(([p, a]) => `${p}=${a}`).join(',')})`;
      if (given.length === 0 || seen.has(key)) continue;
      seen.add(key);
      let renamed = body;
      for (const [param, arg] of given) renamed = renamed.replace(new RegExp(`(?<![\\w.])${param as string}\\.`, 'g'), `${arg}\u0000.`);
      for (const n of reads(renamed.replace(/\u0000/g, ''), plan, seen)) {
        if (given.some(([, arg]) => n === arg || n.startsWith(`${arg}.`))) names.add(n);
      }
    }
  }
  return names;
}

function declared(plan: Plan): Set<string> {
  const names = new Set<string>([...plan.keys.map((k) => `K.${k}`), ...plan.args.map((a) => `A.${a}`)]);
  for (const g of plan.groups) {
    names.add(`G.${g.name}`);
    for (const f of [...g.keys, ...g.args]) names.add(`G.${g.name}.${f}`);
  }
  return names;
}

describe('the Lua scripts follow their declarations', () => {
  it('no script and no _lib.lua function reads KEYS or ARGV by position: only the generated prelude does', () => {
    for (const file of ['_lib', ...Object.values(PLANS).map((p) => p.file)]) {
      expect(lua(file), file).not.toMatch(/\b(KEYS|ARGV)\b/);
    }
  });

  for (const plan of Object.values(PLANS)) {
    it(`${plan.file}.lua reads only what the "${plan.name}" declaration declares, and all of it`, () => {
      const read = reads(lua(plan.file), plan);
      const decl = declared(plan);
      expect([...read].filter((n) => !decl.has(n)), 'read but not declared').toEqual([]);
      // A filled group is read through the ref that points into it.
      const filled = new Set(plan.groups.filter((g) => g.filled).flatMap((g) => [`G.${g.name}`, ...g.keys.map((k) => `G.${g.name}.${k}`)]));
      expect([...decl].filter((n) => !read.has(n) && !filled.has(n)), 'declared but never read').toEqual([]);
    });
  }

  it('the prelude reads each fixed input at its position and steps over groups by their item size', () => {
    const prelude = luaPrelude(PLANS.dead);
    expect(prelude).toContain('local K = { active = KEYS[1], jobs = KEYS[2], attempts = KEYS[3], errors = KEYS[4], dead = KEYS[5], deadInfo = KEYS[6], deadOrder = KEYS[7], notify = KEYS[8] }');
    expect(prelude).toContain('maxDead = tonumber(ARGV[4])');
    expect(prelude).toContain('local n1, k1, a1 = tonumber(ARGV[6]), k, a'); // the first group's count after the 5 fixed arguments
    expect(prelude).toContain('slot = n2 > 0 and { running = KEYS[k2 + 1], ready = KEYS[k2 + 2] } or nil');
    const fetch = luaPrelude(PLANS.fetch);
    expect(fetch).toContain('local k, a = 12, 13'); // 12 fixed keys; 5 fixed arguments + 8 group counts (the last two: results, handoffs)
    expect(fetch).toContain('attempt = function(i) if i <= n2 then return ARGV[a2 + (i - 1) * 2 + 2] end end');
    expect(fetch).toContain('a = a + n1 * 4'); // past the throttled types' arguments
    expect(fetch).toContain('a = a + n2 * 2'); // past the plain acks: two arguments each
    expect(fetch).toContain('row = function(i) if i <= n3 then local b = a3 + (i - 1) * 4; return ARGV[b + 1], ARGV[b + 2], ref4(ARGV[b + 3]), tonumber(ARGV[b + 4]) end end');
    expect(fetch).toContain('local function ref4(r) r = tonumber(r); if r > 0 and r <= n4 then return KEYS[k4 + r] end end');
  });

  it('a script carries the accessors its code calls, and the _lib.lua parts it uses', () => {
    const fetch = scriptSource('fetch');
    expect(fetch).toContain('    acks = {\n      n = n2,\n      row = function(i)'); // row is called; id and attempt are not
    expect(fetch).not.toMatch(/^ {6}attempt = function/m);
    expect(fetch).not.toMatch(/^ {6}id = function/m);
    expect(fetch).toMatch(/^local function ack_completed\(/m);
    expect(fetch).not.toMatch(/^local function bury_invalid_id\(/m);
    expect(scriptSource('get')).not.toMatch(/^local function/m);
    // No script names a _lib.lua definition it does not carry (it would fail only on the path that calls it).
    const libNames = [...readFileSync(new URL('../../src/lua/_lib.lua', import.meta.url), 'utf8').matchAll(/^local (?:function )?(\w+)/gm)].map((m) => m[1] as string);
    for (const name of Object.keys(PLANS) as (keyof typeof PLANS)[]) {
      const source = scriptSource(name);
      const carried = new Set([...source.matchAll(/^local (?:function )?(\w+)/gm)].map((m) => m[1]));
      const code = source.replace(/--.*$/gm, '');
      expect(libNames.filter((n) => !carried.has(n) && new RegExp(`\\b${n}\\b`).test(code)), name).toEqual([]);
    }
  });

  it('a ref must point into a later filled group of one key', () => {
    expect(() => planOf('bad', { file: 'x', keys: [], args: {}, groups: { a: { args: { l: { ref: 'b' } } }, b: { keys: ['k'] } } })).toThrow(/filled/);
    expect(() => planOf('bad', { file: 'x', keys: [], args: {}, groups: { b: { filled: true, keys: ['k'] }, a: { args: { l: { ref: 'b' } } } } })).toThrow(/later/);
  });
});

describe('a call built from named inputs', () => {
  const k = queueKeys('jc', 'q');
  const type = (name: string, concurrency: number, rateMax: number): ThrottledType => ({ name, keys: typeKeys(k, name), concurrency, rateMax, ratePerMs: rateMax > 0 ? 1000 : 0 });

  it('fetch: fixed keys and arguments, then the group counts, then types, plain acks, held acks (a lock by its index) and the locks', () => {
    const types = [type('capped', 2, 0), type('limited', 0, 5)];
    const acks = [{ id: 'a', attempt: 1 }, { id: 'd', attempt: 4 }];
    const heldAcks = [
      { id: 'b', attempt: 3, typeIndex: 1, lock: 'jc:{q}:unique:x' },
      { id: 'c', attempt: 2, typeIndex: 0, lock: 'jc:{q}:unique:y' },
      { id: 'e', attempt: 1, typeIndex: 1 },
    ];
    const call = encodeCall('fetch', k, { want: 10, leaseMs: 30_000, keepCount: 1000, keepAgeMs: 60_000, maxEnvelopeBytes: 0 }, { types, acks, heldAcks, history: undefined, counts: { flat: [] }, results: [], handoffs: [] });
    expect(call.keys).toEqual([
      k.wait, k.prio, k.scheduled, k.active, k.jobs, k.attempts, k.errors, k.notify, k.done, k.doneOrder, k.seq, k.paused,
      ...[types[0], types[1]].flatMap((t) => [t?.keys.ready, t?.keys.running, t?.keys.starts]),
      'jc:{q}:unique:x', 'jc:{q}:unique:y',
    ]);
    expect(call.args).toEqual([
      10, 30_000, 1000, 60_000, 0, 2, 2, 3, 2, 0, 0, 0, 0,
      'capped', 2, 0, 0, 'limited', 0, 5, 1000,
      'a', 1, 'd', 4,
      'b', 3, 1, 1, 'c', 2, 2, 0, 'e', 1, 0, 1,
    ]);
  });

  it('enqueue: an absent optional input is a group of 0 items, a present one of 1; flat items as given', () => {
    const items = ['', '{"n":"x"}', 'given', '{"n":"y"}'];
    const plain = encodeCall('enqueue', k, { delayMs: 0, priority: 0, idPrefix: 'q#' }, { typeReady: undefined, cron: undefined, unique: undefined, locks: { flat: [] }, items: { flat: items } });
    expect(plain.keys).toEqual([k.jobs, k.wait, k.prio, k.scheduled, k.notify, k.seq, k.done, k.dead, k.paused, k.cron]);
    expect(plain.args).toEqual([0, 0, 'q#', 0, 0, 0, 0, 2, ...items]);
    const all = encodeCall(
      'enqueue',
      k,
      { delayMs: 5, priority: 1, idPrefix: '' },
      {
        typeReady: { ready: 'jc:{q}:type:x:ready' },
        cron: { name: 'x', expected: '', next: '1000' },
        unique: { ttlMs: 60_000 },
        locks: { flat: ['jc:{q}:unique:1', 'jc:{q}:unique:2'] },
        items: { flat: items },
      },
    );
    expect(all.keys.slice(10)).toEqual(['jc:{q}:type:x:ready', 'jc:{q}:unique:1', 'jc:{q}:unique:2']);
    expect(all.args).toEqual([5, 1, '', 1, 1, 1, 2, 2, 'x', '', '1000', 60_000, ...items]);
  });

  it('refuses a missing input instead of shifting every offset after it', () => {
    expect(() => encodePlan(PLANS.get, { ...k, active: undefined }, { id: 'x' }, {})).toThrow(/missing key active/);
    expect(() => encodePlan(PLANS.reschedule, k, { id: 'x', attempt: 1, delayMs: 0 }, {})).toThrow(/missing argument giveAttemptBack/);
    expect(() => encodePlan(PLANS.renew, k, { leaseMs: 1 }, { types: [], held: [{ id: 'x', type: 0 }] })).toThrow(/missing held argument attempt/);
    expect(() => encodePlan(PLANS.deadDelete, k, {}, { ids: { flat: [] } })).not.toThrow();
  });

  it('every declaration is used by a script file', () => {
    expect(Object.keys(CONTRACT).sort()).toEqual(Object.keys(PLANS).sort());
  });
});
