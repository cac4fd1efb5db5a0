/**
 * @jobcraft/dashboard: a web dashboard over jobcraft's queues, as a standard fetch handler.
 *
 * ```ts
 * import { createDashboard, toNodeListener } from '@jobcraft/dashboard';
 * const dashboard = createDashboard({ redis: process.env.REDIS_URL, basePath: '/jobs', authorize });
 * http.createServer(toNodeListener(dashboard)).listen(4000, '127.0.0.1');
 * ```
 * docs/dashboard.md describes the options, the pages, the security model and the limits.
 * @packageDocumentation
 */
export { createDashboard, DEFAULT_POLL_MS, MAX_POST_BYTES, MIN_CSRF_SECRET } from './create.js';
export { toNodeListener, createDashboardServer, type NodeListener } from './node.js';
export { PAYLOAD_SHOWN_BYTES } from './page-job.js';
export { BULK_PAGE_SIZE, BULK_TIME_BUDGET_MS, MAX_IDS } from './actions.js';
export { PAGE_SIZES, DEFAULT_PAGE_SIZE } from './context.js';
export { CSRF_COOKIE, CSRF_FIELD } from './security.js';
export {
  DASHBOARD_ACTIONS,
  type Access,
  type ActionEvent,
  type ActionTarget,
  type Dashboard,
  type DashboardAction,
  type DashboardOptions,
  type RedactContext,
} from './options.js';
