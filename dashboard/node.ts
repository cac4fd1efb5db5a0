/**
 * node:http (and Express, Fastify) adapters over the fetch handler, by @hono/node-server, and a standalone server.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createAdaptorServer, getRequestListener } from '@hono/node-server';
import type { Dashboard } from './options.js';

/** A node:http request listener. */
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * A node:http request listener answering with the dashboard. Express's `originalUrl` is used when present, so
 * `app.use('/jobs', toNodeListener(dashboard))` with `basePath: '/jobs'` sees the whole path. Mount it before any
 * body parser (the dashboard reads its form bodies itself).
 */
export function toNodeListener(dashboard: Pick<Dashboard, 'fetch'>): NodeListener {
  const listener = getRequestListener((request) => dashboard.fetch(request));
  return (req, res) => {
    const original = (req as IncomingMessage & { originalUrl?: string }).originalUrl;
    if (typeof original === 'string') req.url = original;
    return listener(req, res);
  };
}

/** A node:http server (not yet listening) answering every request with the dashboard. */
export function createDashboardServer(dashboard: Pick<Dashboard, 'fetch'>): Server {
  return createAdaptorServer({ fetch: (request: Request) => dashboard.fetch(request) }) as Server;
}
