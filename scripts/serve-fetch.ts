/**
 * Serves a fetch handler (`(Request) => Response`, what createDashboard returns) with node:http on 127.0.0.1 and a
 * free port, through the dashboard's own node:http server (`createDashboardServer`): the browser tests and the
 * screenshot script put the dashboard, a proxy in front of it, or an attacker's page behind it.
 */
import type { AddressInfo } from 'node:net';
import { createDashboardServer } from '../dashboard/index.js';

/** A fetch handler: what createDashboard returns. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** A server on a free loopback port. */
export interface Served {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  readonly origin: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `handler` on 127.0.0.1 and a free port. `onCleanup` receives the close function. */
export async function serveFetch(handler: FetchHandler, onCleanup?: (fn: () => Promise<void>) => void): Promise<Served> {
  const server = createDashboardServer({ fetch: async (request) => handler(request) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  onCleanup?.(close);
  return { origin: `http://127.0.0.1:${port}`, port, close };
}
