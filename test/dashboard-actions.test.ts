/**
 * The dashboard's actions, through its fetch handler and the admin API on a real Redis: a dead letter retried from
 * the dashboard runs again in a real worker; pause/resume; every matching dead letter of a job type retried after a
 * dry-run count that changes nothing; promote, cancel and cron trigger; purge; and `onAction` sees each one.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, createWorker, defineJobs, PermanentError, type JobClient } from '../src/index.js';
import { createDashboard, type ActionEvent, type Dashboard } from '../dashboard/index.js';
import { cleanupRegistry, clearPrefix, redisUrl, testPrefix, waitFor } from './helpers.js';
import { get, post, session, testId } from './dashboard-helpers.js';

const jobs = defineJobs({
  charge: { payload: z.object({ n: z.number() }), queue: 'billing', attempts: 1 },
  refund: { payload: z.object({ n: z.number() }), queue: 'billing', attempts: 1 },
  digest: { payload: z.object({}), queue: 'reports', cron: '0 3 * * *' },
});

const defer = cleanupRegistry();

function setup(name: string): { prefix: string; client: JobClient<typeof jobs>; dashboard: Dashboard; events: ActionEvent[] } {
  const prefix = testPrefix(name);
  const client = createClient(jobs, { redis: redisUrl(), prefix });
  const events: ActionEvent[] = [];
  const dashboard = createDashboard({ redis: redisUrl(), prefix, jobs, onAction: (e) => void events.push(e) });
  defer(() => clearPrefix(prefix));
  defer(() => client.close());
  defer(() => dashboard.close());
  return { prefix, client, dashboard, events };
}

/** Kills every charge/refund with a PermanentError until `healthy` is set; returns the worker. */
function billingWorker(prefix: string, state: { healthy: boolean }, ran: string[]) {
  const handle = (name: string) => (_payload: unknown, ctx: { id: string }) => {
    if (!state.healthy) throw new PermanentError(`${name} refused`);
    ran.push(ctx.id);
  };
  const worker = createWorker(jobs, { charge: handle('charge'), refund: handle('refund') }, { redis: redisUrl(), prefix, logger: false, queues: ['billing'] });
  defer(() => worker.close());
  return worker;
}

describe('actions', () => {
  it('retries a dead letter by id: a real worker runs it, and onAction sees the action with its outcome', async () => {
    const { prefix, client, dashboard, events } = setup('dash-retry');
    const state = { healthy: false };
    const ran: string[] = [];
    const worker = billingWorker(prefix, state, ran);
    await worker.ready;
    const { id } = await client.enqueue('charge', { n: 1 });
    await waitFor(async () => (await client.getJob(id))?.state === 'dead', 'the charge died');
    state.healthy = true;

    const page = await get(dashboard, `/jobs/${encodeURIComponent(id)}`);
    expect(page.text).toContain('data-testid="job-dead-retry"');
    const { cookie, token } = await session(dashboard, `/jobs/${encodeURIComponent(id)}`);
    const res = await post(dashboard, { _csrf: token, action: 'dead-retry', id, queue: 'billing', return: `jobs/${encodeURIComponent(id)}` }, { Cookie: cookie, 'X-User': 'ada' });
    expect(res.status).toBe(200);
    expect(testId(res.text, 'done-count')).toBe('1');
    expect(res.text).toContain(`href="./jobs/${encodeURIComponent(id)}" data-testid="back-link"`);
    await waitFor(async () => (await client.getJob(id))?.state === 'completed', 'the retried charge completed');
    expect(ran).toEqual([id]);

    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event).toMatchObject({ action: 'dead-retry', queue: 'billing', target: { ids: [id] }, dryRun: false, failed: false, result: { done: 1 } });
    expect(event?.request.headers.get('x-user')).toBe('ada');
  });

  it('pauses and resumes a queue', async () => {
    const { client, dashboard, events } = setup('dash-pause');
    await client.enqueue('charge', { n: 1 });
    const { cookie, token } = await session(dashboard, '/queues/billing');
    const paused = await post(dashboard, { _csrf: token, action: 'pause', queue: 'billing' }, { Cookie: cookie });
    expect(paused.status).toBe(200);
    expect(testId(paused.text, 'action-summary')).toContain('is paused');
    expect((await get(dashboard, '/queues/billing')).text).toContain('data-testid="queue-paused"');
    expect((await get(dashboard, '/')).text).toContain('data-testid="resume-queue"');
    await post(dashboard, { _csrf: token, action: 'resume', queue: 'billing' }, { Cookie: cookie });
    expect((await get(dashboard, '/queues/billing')).text).toContain('data-testid="queue-running"');
    expect(events.map((e) => e.action)).toEqual(['pause', 'resume']);
  });

  it('retries every dead letter of one job type after a dry-run count that changes nothing', async () => {
    const { prefix, client, dashboard, events } = setup('dash-bulk');
    const state = { healthy: false };
    const worker = billingWorker(prefix, state, []);
    await worker.ready;
    const charges = await client.enqueueMany('charge', [1, 2, 3, 4, 5].map((n) => ({ n })));
    const refunds = await client.enqueueMany('refund', [1, 2].map((n) => ({ n })));
    const all = [...charges, ...refunds].map((r) => r.id);
    await waitFor(async () => (await Promise.all(all.map((id) => client.getJob(id)))).every((j) => j?.state === 'dead'), 'all seven dead');
    await worker.close();

    const listing = await get(dashboard, '/dead?queue=billing&job=charge');
    expect(listing.text).toContain('data-testid="matching-dead-retry"');
    const { cookie, token } = await session(dashboard, '/dead?queue=billing&job=charge');
    const fields = { _csrf: token, action: 'dead-retry', queue: 'billing', state: 'dead', job: 'charge', select: 'all', return: 'dead?queue=billing' };
    const dry = await post(dashboard, { ...fields, dry: '1' }, { Cookie: cookie });
    expect(dry.status).toBe(200);
    expect(testId(dry.text, 'matched-count')).toBe('5');
    expect(dry.text).toContain('data-no-refresh="1"'); // an action's answer is never reloaded (it is a POST's)
    expect(dry.text).toContain('data-testid="confirm-action"');
    expect(testId((await get(dashboard, '/queues/billing?state=dead')).text, 'state-count-dead')).toBe('7');

    const done = await post(dashboard, fields, { Cookie: cookie });
    expect(testId(done.text, 'done-count')).toBe('5');
    expect(testId((await get(dashboard, '/queues/billing?state=dead')).text, 'state-count-dead')).toBe('2');
    for (const r of refunds) expect((await client.getJob(r.id))?.state).toBe('dead');
    expect(events.map((e) => [e.action, e.dryRun, (e.result as { matched: number }).matched])).toEqual([
      ['dead-retry', true, 5],
      ['dead-retry', false, 5],
    ]);
    expect(events[0]?.target).toEqual({ selection: { queue: 'billing', job: 'charge', state: 'dead' } });
  });

  it('promotes and cancels checked delayed jobs, and purges dead letters after a count', async () => {
    const { prefix, client, dashboard } = setup('dash-delayed');
    const [a, b] = await client.enqueueMany('charge', [{ n: 1 }, { n: 2 }], { delay: '1h' });
    const { cookie, token } = await session(dashboard, '/scheduled?queue=billing');
    const promoted = await post(dashboard, { _csrf: token, action: 'promote', queue: 'billing', state: 'delayed', id: [a?.id ?? ''] }, { Cookie: cookie });
    expect(testId(promoted.text, 'done-count')).toBe('1');
    expect((await client.getJob(a?.id ?? ''))?.runAt?.getTime()).toBeLessThan(Date.now() + 60_000);
    const cancelled = await post(dashboard, { _csrf: token, action: 'cancel', queue: 'billing', state: 'delayed', id: [b?.id ?? ''] }, { Cookie: cookie });
    expect(testId(cancelled.text, 'done-count')).toBe('1');
    expect(await client.getJob(b?.id ?? '')).toMatchObject({ state: 'unknown' });

    // Purge: a count first, then the purge. A failing worker kills the promoted job and one more.
    const dead = await client.enqueue('charge', { n: 3 });
    billingWorker(prefix, { healthy: false }, []);
    await waitFor(async () => (await client.getJob(dead.id))?.state === 'dead' && (await client.getJob(a?.id ?? ''))?.state === 'dead', 'both dead');
    const count = await post(dashboard, { _csrf: token, action: 'dead-purge', queue: 'billing', dry: '1' }, { Cookie: cookie });
    expect(testId(count.text, 'matched-count')).toBe('2');
    const purged = await post(dashboard, { _csrf: token, action: 'dead-purge', queue: 'billing' }, { Cookie: cookie });
    expect(testId(purged.text, 'done-count')).toBe('2');
    expect(testId((await get(dashboard, '/queues/billing?state=dead')).text, 'state-count-dead')).toBe('0');
  });

  it('triggers a cron job now', async () => {
    const { client, dashboard, events } = setup('dash-cron');
    const page = await get(dashboard, '/scheduled');
    expect(page.text).toContain('data-job="digest"');
    const { cookie, token } = await session(dashboard, '/scheduled');
    const res = await post(dashboard, { _csrf: token, action: 'cron-trigger', job: 'digest', queue: 'reports' }, { Cookie: cookie });
    expect(res.status).toBe(200);
    const id = /Enqueued digest now: <a href="[^"]+">([^<]+)</.exec(res.text)?.[1];
    expect(id).toBeDefined();
    expect(await client.getJob(id ?? '')).toMatchObject({ state: 'waiting', name: 'digest' });
    expect(events[0]).toMatchObject({ action: 'cron-trigger', queue: 'reports', target: { selection: { queue: 'reports', job: 'digest' } } });
  });

  it('a refused action answers 400 with the reason, and onAction sees it as failed', async () => {
    const { dashboard, events } = setup('dash-bad');
    const { cookie, token } = await session(dashboard);
    const noIds = await post(dashboard, { _csrf: token, action: 'cancel', queue: 'billing' }, { Cookie: cookie });
    expect(noIds.status).toBe(400);
    expect(noIds.text).toContain('check at least one job');
    const badQueue = await post(dashboard, { _csrf: token, action: 'pause', queue: '{bad}' }, { Cookie: cookie });
    expect(badQueue.status).toBe(400);
    expect(events.at(-1)).toMatchObject({ action: 'pause', failed: true });
  });
});
