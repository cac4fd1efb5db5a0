/**
 * The options and types of `createDashboard` (create.ts): where Redis is, who may do what, how payloads are shown,
 * and the audit hook. Every default and limit is in docs/dashboard.md.
 */
import type { JobSet, RedisConfig } from 'jobcraft';

/**
 * Every write the dashboard offers, as `authorize` and `onAction` name them:
 * `retry`, `promote`, `cancel`, `delete` (live jobs), `dead-retry`, `dead-delete`, `dead-purge` (dead letters),
 * `pause`, `resume` (queues), `cron-trigger` (a cron job run now).
 */
export type DashboardAction =
  | 'retry'
  | 'promote'
  | 'cancel'
  | 'delete'
  | 'dead-retry'
  | 'dead-delete'
  | 'dead-purge'
  | 'pause'
  | 'resume'
  | 'cron-trigger';

/** Every {@link DashboardAction}. */
export const DASHBOARD_ACTIONS: readonly DashboardAction[] = [
  'retry',
  'promote',
  'cancel',
  'delete',
  'dead-retry',
  'dead-delete',
  'dead-purge',
  'pause',
  'resume',
  'cron-trigger',
];

/**
 * What a request may do, as `authorize` answers:
 * - `'full'`: read every page and take every action;
 * - `'read-only'`: read every page; no action button is shown and every POST is answered 403;
 * - `'forbidden'`: nothing (403);
 * - `{ actions: [...] }`: read every page and take only the actions listed (the others' buttons are hidden and
 *   their POSTs answered 403);
 * - a `Response`: sent as it is (e.g. a 401 with `WWW-Authenticate` asking for credentials).
 */
export type Access = 'full' | 'read-only' | 'forbidden' | { readonly actions: readonly DashboardAction[] } | Response;

/** Which jobs a bulk action took: named ids, or a selection (a queue, optionally one job type, `all` otherwise). */
export type ActionTarget =
  | { readonly ids: readonly string[] }
  | { readonly selection: { readonly queue: string; readonly job?: string; readonly state?: string } };

/** What {@link DashboardOptions.onAction} receives after each action (dry runs included, with `dryRun: true`). */
export interface ActionEvent {
  readonly action: DashboardAction;
  /** The queue acted on (the queue of a selection, of a pause/resume/purge, or of a cron job); undefined for ids across queues. */
  readonly queue: string | undefined;
  /** The job ids, or the selection. `cron-trigger` names the job type as its selection's `job`. */
  readonly target: ActionTarget;
  readonly dryRun: boolean;
  /** What the admin API answered (`ActOutcome`, `BulkOutcome`, `PurgeOutcome`, `PauseOutcome`, `TriggerOutcome`), or the error it threw. */
  readonly result: unknown;
  /** Whether the action failed (then `result` is the error). */
  readonly failed: boolean;
  /** The request that asked for it (read its headers for the user). */
  readonly request: Request;
}

/** Where a payload shown belongs, as {@link DashboardOptions.redact} receives it. */
export interface RedactContext {
  readonly id: string;
  readonly queue: string | undefined;
  readonly name: string | undefined;
}

/** Options of `createDashboard`. */
export interface DashboardOptions {
  /**
   * Where Redis is: a URL, ioredis options, a `Redis`/`Cluster` of yours (it stays yours: `close()` leaves it open)
   * or a cluster config. Default `REDIS_URL`, else `redis://127.0.0.1:6379`.
   */
  readonly redis?: RedisConfig;
  /** Key prefix of the queues shown. Default `"jobcraft"`. */
  readonly prefix?: string;
  /**
   * The job set. Without it the dashboard still shows every queue, job and worker; with it, the job types page
   * shows each job's options and payload JSON Schema, the cron page lists cron jobs, and jobs report `maxAttempts`.
   */
  readonly jobs?: JobSet;
  /**
   * The generated manifest (`generated/jobs.manifest.json`), parsed: the job types page shows its JSON Schemas as
   * codegen wrote them (preferred over schemas derived from `jobs` at run time).
   */
  readonly manifest?: unknown;
  /**
   * The path the dashboard is mounted at, as the request URL shows it (e.g. `/admin/jobs`). Default `/`. Every link
   * the dashboard writes is relative, so a reverse proxy may add a further prefix the app does not see.
   */
  readonly basePath?: string;
  /** Decides what each request may do (see {@link Access}). Default: every request gets `'full'`. */
  readonly authorize?: (request: Request) => Access | Promise<Access>;
  /**
   * Returns the payload to show (on the job page and its download) in place of the stored one: mask secrets here.
   * May be async (its promise is awaited). Default: the payload as stored. A throw (or a rejection) shows a notice
   * instead of the payload.
   */
  readonly redact?: (payload: unknown, job: RedactContext) => unknown;
  /** Read-only for everyone, whatever `authorize` says. Default false. */
  readonly readOnly?: boolean;
  /** Called after every action (an audit log); awaited, its errors are logged and otherwise ignored. */
  readonly onAction?: (event: ActionEvent) => void | Promise<void>;
  /** The default refresh period of the pages in ms (the user may change it in the page; 0: off). Default 5000. */
  readonly pollMs?: number;
  /**
   * Origins (`https://ops.example.com`) accepted on POSTs besides the request's own (a reverse proxy that rewrites
   * `Host`). Default none.
   */
  readonly trustedOrigins?: readonly string[];
  /**
   * The host names (or IP addresses) requests may be addressed to, as their URL (the `Host` header) names them;
   * a request for any other answers 403 before anything is read. Set it when the dashboard has no authorization of its
   * own and listens on loopback: a web page whose name an attacker rebinds to 127.0.0.1 (DNS rebinding) is otherwise
   * same-origin with it for the browser. Default: any host.
   */
  readonly allowedHosts?: readonly string[];
  /**
   * The secret the CSRF tokens are signed with (at least 32 characters). Give every replica of an app that mounts the
   * dashboard the same one (e.g. from the environment): behind a load balancer, a page served by one replica then posts
   * to any other. Default: random per dashboard, so a token is good only on the instance that made it.
   */
  readonly csrfSecret?: string;
  /**
   * The most stored jobs one live check (the job types page's "Run the live check") reads: it stops between two pages
   * once it has read that many and says its counts are partial. Default 10,000 (`jobcraft check --live` reads all).
   */
  readonly liveCheckMaxJobs?: number;
  /** Where errors of hooks and Redis are logged. Default `console.error`. */
  readonly logError?: (message: string, error: unknown) => void;
}

/** A dashboard: a standard fetch handler. */
export interface Dashboard {
  /** Answers one request (any path under `basePath`; others get 404). */
  fetch(request: Request): Promise<Response>;
  /** Closes the Redis connection the dashboard opened (a connection passed in stays open). */
  close(): Promise<void>;
}
