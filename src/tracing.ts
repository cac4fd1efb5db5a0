/**
 * OpenTelemetry traces through `@opentelemetry/api` only (an optional peer dependency; the application brings the
 * SDK): a PRODUCER span around each enqueue call and a CONSUMER span around each attempt, with the messaging
 * semantic-convention attributes. The producer span's W3C trace context is stored in the job (envelope field `tc`),
 * so a worker in another service continues the trace: the attempt's span is a child of the producer span and also
 * links to it (the messaging conventions require the link and allow the parent for single-message processing).
 *
 * Tracing is decided once, when a client or worker is created: on when the package is installed and a tracer
 * provider is registered (and the `tracing` option is not `false`). Off, nothing here runs per job.
 */
import type * as Otel from '@opentelemetry/api';
import type { JobSet } from './define.js';
import type { EnqueueHooks, InstrumentedRun, RunHooks } from './instrument.js';
import { SnoozeSignal } from './errors.js';
import { tryRequirePeer } from './optional-peer.js';
import { parseTraceContext } from './payload.js';

/** `messaging.system` of every span. */
export const MESSAGING_SYSTEM = 'jobcraft';
const TRACER_NAME = 'jobcraft';

/** The API when tracing should be on: the package is installed and a tracer provider is registered. */
function activeTracingApi(option: boolean | undefined): typeof Otel | undefined {
  if (option === false) return undefined;
  const api = tryRequirePeer<typeof Otel>('@opentelemetry/api');
  if (api === undefined) return undefined;
  const provider = api.trace.getTracerProvider() as Otel.TracerProvider & { getDelegate?: () => Otel.TracerProvider };
  // The global provider is a proxy; with nothing registered it delegates to the API's one no-op provider.
  if (typeof provider.getDelegate === 'function' && provider.getDelegate() === new api.ProxyTracerProvider().getDelegate()) return undefined;
  return api;
}

/** A span context as stored in a job: `traceparent`, or `traceparent|tracestate`. */
export function formatTraceContext(sc: Otel.SpanContext): string {
  const flags = (sc.traceFlags & 0xff).toString(16).padStart(2, '0');
  const parent = `00-${sc.traceId}-${sc.spanId}-${flags}`;
  const state = sc.traceState?.serialize();
  return state ? `${parent}|${state}` : parent;
}

/** The PRODUCER side: one span per enqueue call; its context goes into every job the call writes. */
export function tracingEnqueueHooks(option: boolean | undefined, jobs: JobSet): EnqueueHooks | undefined {
  const api = activeTracingApi(option);
  return api === undefined ? undefined : enqueueHooksOf(api, jobs);
}

function enqueueHooksOf(api: typeof Otel, jobs: JobSet): EnqueueHooks {
  const tracer = api.trace.getTracer(TRACER_NAME);
  return {
    around: (name, count, call) => {
      const queue = jobs.jobs.get(name)?.queue;
      if (queue === undefined) return call(undefined);
      const attributes: Otel.Attributes = {
        'messaging.system': MESSAGING_SYSTEM,
        'messaging.destination.name': queue,
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'enqueue',
        'jobcraft.job.name': name,
      };
      if (count !== 1) attributes['messaging.batch.message_count'] = count;
      const span = tracer.startSpan(`enqueue ${queue}`, { kind: api.SpanKind.PRODUCER, attributes });
      const sc = span.spanContext();
      const tc = api.isSpanContextValid(sc) ? formatTraceContext(sc) : undefined;
      let result;
      try {
        result = api.context.with(api.trace.setSpan(api.context.active(), span), () => call(tc));
      } catch (err) {
        endWithError(api, span, err);
        throw err;
      }
      return result.then(
        (results) => {
          if (results.length === 1) span.setAttribute('messaging.message.id', (results[0] as unknown as { id: string }).id);
          span.end();
          return results;
        },
        (err: unknown) => {
          endWithError(api, span, err);
          throw err;
        },
      );
    },
  };
}

/** The CONSUMER side: one span per attempt, around the middleware and the handler. */
export function tracingRunHooks(option: boolean | undefined): RunHooks | undefined {
  const api = activeTracingApi(option);
  return api === undefined ? undefined : runHooksOf(api);
}

function runHooksOf(api: typeof Otel): RunHooks {
  const tracer = api.trace.getTracer(TRACER_NAME);
  return {
    wrap: (run: InstrumentedRun, call) => {
      // From the root: the context active here is the one the fetch loop inherited when the worker was created (a
      // startup or request span), which no job belongs to. A stored context, when there is one, is the parent.
      let parent = api.ROOT_CONTEXT;
      let links: Otel.Link[] | undefined;
      const stored = parseTraceContext(run.envelope.tc);
      if (stored !== undefined) {
        const creation: Otel.SpanContext = {
          traceId: stored.traceId,
          spanId: stored.spanId,
          traceFlags: stored.traceFlags,
          isRemote: true,
          traceState: stored.traceState === undefined ? undefined : api.createTraceState(stored.traceState),
        };
        parent = api.trace.setSpanContext(parent, creation);
        links = [{ context: creation }];
      }
      const span = tracer.startSpan(
        `process ${run.queue}`,
        {
          kind: api.SpanKind.CONSUMER,
          links,
          attributes: {
            'messaging.system': MESSAGING_SYSTEM,
            'messaging.destination.name': run.queue,
            'messaging.operation.type': 'process',
            'messaging.operation.name': 'process',
            'messaging.message.id': run.id,
            'jobcraft.job.name': run.job.name,
            'jobcraft.job.attempt': run.attempt,
            'jobcraft.job.max_attempts': run.maxAttempts,
          },
        },
        parent,
      );
      let result: Promise<void> | void;
      try {
        result = api.context.with(api.trace.setSpan(parent, span), call);
      } catch (err) {
        endAttempt(api, span, err);
        throw err;
      }
      if (result === undefined || typeof (result as { then?: unknown }).then !== 'function') {
        span.end();
        return result;
      }
      return Promise.resolve(result).then(
        () => span.end(),
        (err: unknown) => {
          endAttempt(api, span, err);
          throw err;
        },
      );
    },
  };
}

function endAttempt(api: typeof Otel, span: Otel.Span, err: unknown): void {
  // A snooze is not a failure: the job runs again later without spending an attempt.
  if (err instanceof SnoozeSignal) {
    span.setAttribute('jobcraft.job.snoozed', true);
    span.end();
    return;
  }
  endWithError(api, span, err);
}

function endWithError(api: typeof Otel, span: Otel.Span, err: unknown): void {
  if (err instanceof Error) span.recordException(err);
  span.setStatus({ code: api.SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  span.end();
}
