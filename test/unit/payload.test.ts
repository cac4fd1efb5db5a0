/**
 * Payload encoding without Redis: what JSON cannot carry is named, the envelope round-trips, a decoded envelope is
 * checked field by field without trusting it, canonical JSON sorts keys at every level.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { defineJobs } from '../../src/define.js';
import { JobValidationError } from '../../src/errors.js';
import { canonicalJson, decodeEnvelope, encodeEnvelope, jsonIssues, serializePayload } from '../../src/payload.js';

const set = defineJobs({
  greet: { payload: z.object({ name: z.string(), times: z.number().default(1) }) },
  shout: { payload: z.object({ text: z.string() }).transform((v) => ({ text: v.text.toUpperCase() })) },
});
const greet = set.jobs.get('greet')!;

describe('jsonIssues', () => {
  it('finds nothing in plain JSON values', () => {
    expect(jsonIssues({ a: [1, 'x', true, null, { b: 2.5 }] })).toEqual([]);
    expect(jsonIssues(Object.create(null))).toEqual([]);
  });

  it('names every value JSON would change, with its path', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const found = jsonIssues({ d: new Date(0), n: Number.NaN, i: Number.POSITIVE_INFINITY, b: 1n, m: new Map(), s: new Set(), f: () => 1, u: [undefined], c: cyclic });
    const byPath = Object.fromEntries(found.map((i) => [i.path.join('.'), i.message]));
    expect(Object.keys(byPath).sort()).toEqual(['b', 'c.self', 'd', 'f', 'i', 'm', 'n', 's', 'u.0'].sort());
    expect(byPath.d).toMatch(/a Date/);
    expect(byPath.n).toMatch(/NaN cannot be stored as JSON/);
    expect(byPath.b).toMatch(/BigInt/);
    expect(byPath.m).toMatch(/a Map/);
    expect(byPath.s).toMatch(/a Set/);
    expect(found.every((i) => i.code === 'not_json')).toBe(true);
  });

  it('stops after 20 issues', () => {
    expect(jsonIssues(Array.from({ length: 50 }, () => Number.NaN))).toHaveLength(20);
  });
});

describe('serializePayload', () => {
  it('returns the JSON text of the input and the parsed output', () => {
    expect(serializePayload(greet, { name: 'ada' }, 1000)).toEqual({ text: '{"name":"ada"}', parsed: { name: 'ada', times: 1 } });
  });

  it('refuses a payload failing its schema, one JSON cannot carry, undefined, and one over the byte limit', () => {
    expect(() => serializePayload(greet, { name: 5 }, 1000)).toThrow(JobValidationError);
    expect(() => serializePayload(greet, { name: 'x', at: new Date() }, 1000)).toThrow(/a Date/);
    expect(() => serializePayload(greet, undefined, 1000)).toThrow(/at enqueue: .*undefined/);
    expect(() => serializePayload(greet, { name: 'x'.repeat(100) }, 50)).toThrow(/is 111 bytes of JSON, over the limit of 50 bytes/);
    expect(serializePayload(greet, { name: 'x'.repeat(100) }, 111).text).toHaveLength(111);
    // Bytes, not characters.
    expect(() => serializePayload(greet, { name: 'é'.repeat(10) }, 30)).toThrow(/over the limit/);
  });
});

describe('envelopes', () => {
  it('encode with only the fields that are set; decode gives them back', () => {
    expect(encodeEnvelope('greet', 5, '{"name":"a"}')).toBe('{"n":"greet","t":5,"p":{"name":"a"}}');
    expect(encodeEnvelope('greet', 5, '{}', undefined, 0)).toBe('{"n":"greet","t":5,"p":{}}');
    const u = `greet:${'a'.repeat(40)}`;
    const text = encodeEnvelope('greet', 5, '{"name":"a"}', 3, -2, u);
    expect(text).toBe(`{"n":"greet","t":5,"a":3,"r":-2,"u":"${u}","p":{"name":"a"}}`);
    expect(decodeEnvelope(text)).toEqual({ ok: true, envelope: { n: 'greet', t: 5, p: { name: 'a' }, a: 3, r: -2, u } });
  });

  it('decode refuses what is missing or malformed, with the reason', () => {
    expect(decodeEnvelope(null)).toEqual({ ok: false, reason: expect.stringMatching(/no stored job/) });
    expect(decodeEnvelope('{')).toEqual({ ok: false, reason: expect.stringMatching(/^malformed JSON in the stored job: /) });
    for (const notObject of ['[1]', '42', 'null', '"x"']) expect(decodeEnvelope(notObject)).toEqual({ ok: false, reason: 'the stored job is not a JSON object' });
    expect(decodeEnvelope('{"t":1,"p":{}}')).toEqual({ ok: false, reason: 'the stored job has no job name (field "n")' });
    expect(decodeEnvelope('{"n":1,"t":1,"p":{}}')).toEqual({ ok: false, reason: 'the stored job has no job name (field "n")' });
    expect(decodeEnvelope('{"n":"a","p":{}}')).toEqual({ ok: false, reason: 'the stored job has no enqueue time (field "t")' });
    expect(decodeEnvelope('{"n":"a","t":1}')).toEqual({ ok: false, reason: 'the stored job has no payload (field "p")' });
    for (const a of ['0', '1.5', '"2"', '-1']) {
      expect(decodeEnvelope(`{"n":"a","t":1,"p":{},"a":${a}}`)).toEqual({ ok: false, reason: 'the stored job has an invalid attempts override (field "a")' });
    }
    expect(decodeEnvelope('{"n":"a","t":1,"p":null,"a":1}')).toMatchObject({ ok: true, envelope: { p: null, a: 1 } });
  });

  it('decode drops a priority that is not a number and a unique key of the wrong shape', () => {
    const d = decodeEnvelope('{"n":"a","t":1,"p":{},"r":"5","u":"a:xyz"}');
    expect(d).toEqual({ ok: true, envelope: { n: 'a', t: 1, p: {}, a: undefined, r: undefined, u: undefined } });
    expect(decodeEnvelope(`{"n":"a","t":1,"p":{},"u":"a:${'f'.repeat(40)}x"}`)).toMatchObject({ ok: true, envelope: { u: undefined } });
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level and keeps arrays in order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson({ b: 1, a: 2 })).toBe(canonicalJson({ a: 2, b: 1 }));
    expect(canonicalJson('x')).toBe('"x"');
  });
});
