/**
 * The lease book without Redis or timers (src/worker/leases.ts): local deadlines (sent + lease − margin), renewals
 * that extend only leases still held and not yet past their deadline, expiry, and forgetting runs by identity.
 */
import { describe, expect, it } from 'vitest';
import { LeaseBook, type HeldRun } from '../../src/worker/leases.js';

const run = (id: string, queue = 'a', deadline = 1_000): HeldRun => ({ id, queue, deadline });
const book = () => new LeaseBook<HeldRun>(['a', 'b'], 30_000, 5_000);

describe('LeaseBook', () => {
  it('counts on a lease until lease − margin after the call that granted it was sent', () => {
    expect(book().deadline(100)).toBe(100 + 30_000 - 5_000);
  });

  it('holds runs per queue, and only for the queues it serves', () => {
    const b = book();
    const x = run('x');
    b.heldIn('a')?.set(x.id, x);
    b.heldIn('b')?.set('y', run('y', 'b'));
    expect(b.heldIn('c')).toBeUndefined();
    expect(b.get('a', 'x')).toBe(x);
    expect(b.get('b', 'x')).toBeUndefined();
    expect(b.count('a')).toBe(1);
    expect(b.count('c')).toBe(0);
    expect(b.runs('a')).toEqual([x]);
    expect(b.runs('c')).toEqual([]);
    expect([...b.all()].map((r) => r.id)).toEqual(['x', 'y']);
  });

  it('drops a run only if it is the one held under its id (a newer run of the same id stays)', () => {
    const b = book();
    const old = run('x');
    const now = run('x');
    b.heldIn('a')?.set('x', now);
    expect(b.drop(old)).toBe(false);
    expect(b.get('a', 'x')).toBe(now);
    expect(b.drop(now)).toBe(true);
    expect(b.drop(now)).toBe(false);
    expect(b.count('a')).toBe(0);
  });

  it('drops by id and says what it dropped', () => {
    const b = book();
    const x = run('x');
    b.heldIn('a')?.set('x', x);
    expect(b.dropId('a', 'x')).toBe(x);
    expect(b.dropId('a', 'x')).toBeUndefined();
    expect(b.dropId('c', 'x')).toBeUndefined();
  });

  it('extends the deadline of renewed runs still held and not yet past it; never moves one back', () => {
    const b = book();
    const held = run('held', 'a', 1_000);
    const passed = run('passed', 'a', 400);
    const gone = run('gone', 'a', 1_000);
    const later = run('later', 'a', 9_000);
    for (const r of [held, passed, later]) b.heldIn('a')?.set(r.id, r);
    b.renewed('a', [held, passed, gone, later], 5_000, 500);
    expect(held.deadline).toBe(5_000);
    expect(passed.deadline).toBe(400); // its answer came after its deadline: the lease may be someone else's
    expect(gone.deadline).toBe(1_000); // no longer held
    expect(later.deadline).toBe(9_000);
  });

  it('does not extend a lease whose answer came exactly at its deadline', () => {
    const b = book();
    const x = run('x', 'a', 500);
    b.heldIn('a')?.set('x', x);
    b.renewed('a', [x], 5_000, 500);
    expect(x.deadline).toBe(500);
  });

  it('answers for a queue it does not serve without failing (nothing held there)', () => {
    const b = book();
    const stray = run('x', 'c');
    expect(b.get('c', 'x')).toBeUndefined();
    expect(b.drop(stray)).toBe(false);
    b.renewed('c', [stray], 5_000, 0);
    expect(stray.deadline).toBe(1_000);
  });

  it('does not extend a run renewed in another queue than the one it is held in', () => {
    const b = book();
    const x = run('x', 'a', 1_000);
    b.heldIn('a')?.set('x', x);
    b.renewed('b', [x], 5_000, 0);
    expect(x.deadline).toBe(1_000);
  });

  it('expires every run at or past its deadline, forgets them, and gives the earliest deadline left', () => {
    const b = book();
    const runs = [run('due', 'a', 100), run('exact', 'b', 200), run('left', 'a', 300), run('last', 'b', 900)];
    for (const r of runs) b.heldIn(r.queue)?.set(r.id, r);
    const { expired, next } = b.expire(200);
    expect(expired?.map((r) => r.id).sort()).toEqual(['due', 'exact']);
    expect(next).toBe(300);
    expect([...b.all()].map((r) => r.id).sort()).toEqual(['last', 'left']);
    expect(b.expire(200)).toEqual({ expired: undefined, next: 300 });
    expect(book().expire(0)).toEqual({ expired: undefined, next: Infinity });
  });
});
