/**
 * The error history's cap and entry size are written twice: in src/bounds.ts (the readers, the docs) and in
 * src/lua/_lib.lua (the scripts that write the list). They must agree.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_EARLIER_ERRORS, MAX_EARLIER_ERROR_BYTES } from '../../src/bounds.js';
import { earlierErrorsOf, parseErrorHistory, storedTime } from '../../src/errors.js';

const lib = readFileSync(new URL('../../src/lua/_lib.lua', import.meta.url), 'utf8');

describe('error history bounds', () => {
  it('_lib.lua uses the cap and entry size of src/bounds.ts', () => {
    expect(Number(/^local MAX_EARLIER_ERRORS = (\d+)$/m.exec(lib)?.[1])).toBe(MAX_EARLIER_ERRORS);
    expect(Number(/^local EARLIER_ERROR_BYTES = (\d+)$/m.exec(lib)?.[1])).toBe(MAX_EARLIER_ERROR_BYTES);
  });

  it('reads at most the cap, newest kept, and nothing from records that hold no list', () => {
    const list = Array.from({ length: 9 }, (_, i) => ({ message: `m${i}`, at: i }));
    expect(earlierErrorsOf({ earlier: list }).map((e) => e.message)).toEqual(['m5', 'm6', 'm7', 'm8']);
    for (const v of [null, 'x', 1, [], { earlier: 'x' }, { earlier: { 0: list[0] } }, { earlier: [1, null, 'x', [list[0]]] }]) expect(earlierErrorsOf(v)).toEqual([]);
    expect(parseErrorHistory(null)).toEqual([]);
    expect(parseErrorHistory('not json').map((e) => e.name)).toEqual(['CorruptErrorRecord']);
    expect(parseErrorHistory(JSON.stringify({ message: 'last', at: 3, earlier: list.slice(0, 2) })).map((e) => e.message)).toEqual(['m0', 'm1', 'last']);
  });

  it('reads a time no number can be made of as none, instead of throwing (records are anyone\'s text)', () => {
    // An object whose toString and valueOf are not functions: Number() of it throws.
    const unconvertible = '{"toString":1,"valueOf":1}';
    const json = `{"message":"last","at":${unconvertible},"earlier":[{"message":"m0","at":${unconvertible}}]}`;
    expect(parseErrorHistory(json).map((e) => [e.message, e.at])).toEqual([
      ['m0', 0],
      ['last', 0],
    ]);
    expect(storedTime(JSON.parse(unconvertible))).toBe(0);
  });
});
