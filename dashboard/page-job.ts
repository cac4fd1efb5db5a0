/**
 * One job: state, attempts, options, payload (through `redact`, cut past {@link PAYLOAD_SHOWN_BYTES} with a link to
 * download it whole), its errors (newest first, each with its attempt, time and stack), the timeline, and the actions its state allows.
 */
import type { JobDetails, StoredError } from 'jobcraft';
import { actionButton, bytes, html, href, jobHref, layout, seg, time, type Html } from './html.js';
import { actionsFor, type Ctx } from './context.js';
import type { DashboardOptions } from './options.js';

/**
 * One error of the job's list: name, message, attempt, time and stack (all escaped by `html`). The newest carries the
 * test ids `error-message` and `error-stack` (as when a job showed only its last error); earlier ones
 * `earlier-error-message` and `earlier-error-stack`.
 */
function errorItem(e: StoredError, newest: boolean, now: number): Html {
  const at = e.at > 0 ? time(new Date(e.at), now) : html`<span class="muted">time unknown</span>`;
  return html`<li data-testid="job-error" data-attempt="${e.attempt ?? ''}"><p class="error" data-testid="${newest ? 'error-message' : 'earlier-error-message'}">${e.name}: ${e.message} <span class="muted">(attempt ${e.attempt ?? '?'}, ${at})</span></p>
<pre class="stack" data-testid="${newest ? 'error-stack' : 'earlier-error-stack'}">${e.stack ?? ''}</pre></li>`;
}

/** A payload longer than this (UTF-8 bytes of its pretty-printed JSON) is cut on the job page; the whole one is a download. */
export const PAYLOAD_SHOWN_BYTES = 64 * 1024;

/** The payload to show, as pretty JSON, after `redact` (awaited: it may be async); or a notice when redact threw or rejected. */
export async function shownPayload(options: DashboardOptions, job: JobDetails): Promise<{ text: string; failed: boolean }> {
  let value: unknown = job.payload;
  if (options.redact !== undefined) {
    try {
      value = await options.redact(job.payload, { id: job.id, queue: job.queue, name: job.name });
    } catch {
      return { text: '(the redact hook threw: the payload is not shown)', failed: true };
    }
  }
  try {
    const text = value === undefined ? '' : JSON.stringify(value, null, 2) ?? '';
    return { text, failed: false };
  } catch (err) {
    // Only redact's answer can fail here (a stored payload is JSON): a BigInt, a cycle.
    return { text: `(the redact hook's answer cannot be shown as JSON: ${(err as Error)?.message ?? String(err)})`, failed: true };
  }
}

/** Cuts a text to at most `max` UTF-8 bytes (at a character boundary). */
function cutUtf8(text: string, max: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= max) return text;
  let end = max;
  // Back up to the start of a character: continuation bytes are 10xxxxxx.
  while (end > 0 && ((buf[end] ?? 0) & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8');
}

export async function jobPage(ctx: Ctx, id: string): Promise<Html | undefined> {
  const { page } = ctx;
  const job = await ctx.inspector.job(id);
  if (job.state === 'unknown') return undefined;
  const now = Date.now();
  const payload = await shownPayload(ctx.options, job);
  const size = Buffer.byteLength(payload.text, 'utf8');
  const cut = size > PAYLOAD_SHOWN_BYTES;
  const shown = cut ? cutUtf8(payload.text, PAYLOAD_SHOWN_BYTES) : payload.text;
  const declared = job.name === undefined ? undefined : ctx.jobs?.jobs.get(job.name);
  const t = job.timeline;
  const timeline: [Date | undefined, string][] = [
    [t.enqueuedAt, 'enqueued'],
    [t.startedAt, 'current attempt started'],
    ...job.errors.slice(0, -1).map((e): [Date | undefined, string] => [e.at > 0 ? new Date(e.at) : undefined, `attempt ${e.attempt ?? '?'} failed`]),
    [t.lastFailedAt, `attempt ${job.lastError?.attempt ?? '?'} failed`],
    [job.runAt, job.state === 'retrying' ? 'next attempt due' : 'due'],
    [job.leaseExpiresAt, 'lease expires'],
    [t.finishedAt, job.state === 'dead' ? 'died' : 'finished'],
  ];
  const events = timeline.filter((e): e is [Date, string] => e[0] !== undefined).sort((a, b) => a[0].getTime() - b[0].getTime());
  const actions = actionsFor(job.state).filter((a) => page.can(a));
  const dead = job.state === 'dead';
  const body = html`
<table class="facts" data-testid="job-facts">
<tr><th>ID</th><td data-testid="job-id">${job.id}</td></tr>
<tr><th>Job type</th><td data-testid="job-name">${job.name ?? '?'}</td></tr>
<tr><th>Queue</th><td>${job.queue === undefined ? '?' : html`<a href="${href(page, `queues/${seg(job.queue)}`)}">${job.queue}</a>`}</td></tr>
<tr><th>State</th><td data-testid="job-state">${job.state}</td></tr>
<tr><th>Attempts</th><td data-testid="job-attempts">${job.attempts}${job.maxAttempts === undefined ? '' : ` of ${job.maxAttempts}`}</td></tr>
${dead ? html`<tr><th>Dead reason</th><td data-testid="dead-reason">${job.deadReason ?? '?'}</td></tr>` : ''}
${job.priority === undefined ? '' : html`<tr><th>Priority</th><td data-testid="job-priority">${job.priority}</td></tr>`}
${job.uniqueKey === undefined ? '' : html`<tr><th>Unique key</th><td data-testid="job-unique-key">${job.uniqueKey}</td></tr>`}
${job.payloadVersion === undefined ? '' : html`<tr><th>Payload version</th><td data-testid="job-payload-version">${job.payloadVersion}</td></tr>`}
${job.workerId === undefined ? '' : html`<tr><th>Worker</th><td>${job.workerId}</td></tr>`}
<tr><th>Trace id</th><td data-testid="trace-id">${job.traceId ?? html`<span class="muted">none</span>`}</td></tr>
</table>
${actions.length === 0 ? '' : html`<div class="actions" data-testid="job-actions">${actions.map((a) => actionButton(page, a, { id: job.id, queue: job.queue }, `job-${a}`, a === 'cancel' || a === 'dead-delete'))}</div>`}
${declared === undefined ? '' : html`<h2>Options of ${declared.name}</h2><pre data-testid="job-options">${JSON.stringify({ queue: declared.queue, attempts: declared.attempts, backoff: declared.backoff, timeoutMs: declared.timeoutMs ?? null, priority: declared.priority, cron: declared.cron === undefined ? null : { pattern: declared.cron.pattern, tz: declared.cron.tz } }, null, 2)}</pre>`}
<h2>Payload</h2>
${job.state === 'completed'
  ? html`<p class="muted" data-testid="payload-none">A completed job keeps no payload: its record holds only the attempts it took and when it finished.</p>`
  : job.payload === undefined && !payload.failed
    ? html`<p class="warn" data-testid="payload-none">No payload to show: the stored job could not be read as a jobcraft job${job.deadReason === undefined ? '' : ` (dead reason: ${job.deadReason})`}.</p>`
    : payload.failed ? html`<p class="warn" data-testid="payload-redact-failed">${payload.text}</p>` : html`<pre class="payload" data-testid="payload">${shown}</pre>
${cut ? html`<p class="warn" data-testid="payload-truncated">Cut at ${bytes(PAYLOAD_SHOWN_BYTES)} of ${bytes(size)}. <a href="${jobHref(page, job.id, '/payload')}" download data-testid="payload-download">Download the whole payload</a></p>` : ''}`}
<h2>${job.errors.length > 1 ? `Errors (${job.errors.length}, newest first)` : 'Last error'}</h2>
${job.errors.length === 0 ? html`<p class="muted" data-testid="no-error">none</p>` : html`<ol class="errors" data-testid="job-errors">${[...job.errors].reverse().map((e, i) => errorItem(e, i === 0, now))}</ol>
${job.errors.length > 1 ? html`<p class="muted">Earlier errors keep at most 2 KiB of their message and 4 KiB of their stack; a job keeps its last 5 errors.</p>` : ''}`}
<h2>Timeline</h2>
<ol class="timeline" data-testid="timeline">${events.map(([at, what]) => html`<li><time datetime="${at.toISOString()}">${at.toISOString()}</time> ${what}</li>`)}</ol>`;
  return layout(page, `Job ${job.id}`, body);
}
