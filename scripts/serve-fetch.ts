/**
 * Serves a fetch handler (`(Request) => Response`, what createDashboard returns) with node:http on 127.0.0.1 and a
 * free port: the browser tests and the screenshot script put the dashboard behind it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A fetch handler: what createDashboard returns. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** A server on a free loopback port. */
export interface Served {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  readonly origin: string;
  readonly port: number;
  close(): Promise<void>;
}

async function toRequest(req: IncomingMessage, origin: string): Promise<Request> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const method = req.method ?? 'GET';
  let body: Buffer | undefined;
  if (method !== 'GET' && method !== 'HEAD') {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    body = Buffer.concat(chunks);
  }
  return new Request(new URL(req.url ?? '/', origin), { method, headers, ...(body ? { body } : {}) });
}

async function sendResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  res.writeHead(response.status, headers);
  res.end(Buffer.from(await response.arrayBuffer()));
}

/**
 * Serves `handler` with node:http on 127.0.0.1 and a free port (a plain bridge: the request as a fetch Request, the
 * Response written back). `onCleanup` receives the close function.
 */
export async function serveFetch(handler: FetchHandler, onCleanup?: (fn: () => Promise<void>) => void): Promise<Served> {
  let origin = '';
  const server = createServer((req, res) => {
    void (async () => {
      try {
        await sendResponse(res, await handler(await toRequest(req, origin)));
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`test server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  onCleanup?.(close);
  return { origin, port, close };
}
