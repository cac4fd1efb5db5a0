/**
 * A TCP proxy on 127.0.0.1 for partition tests: it forwards every connection to a target, and can hold its traffic in
 * both directions (a network partition: connections stay open, bytes wait), let it flow again, or cut every
 * connection. Used by test/partition.test.ts and the partition phase of `npm run chaos`.
 */
import { createServer, Socket, type Server } from 'node:net';

/** One client connection and its link to the target. */
interface Link {
  readonly client: Socket;
  readonly upstream: Socket;
  /** Bytes held while the proxy holds traffic, per direction, in order. */
  readonly toUpstream: Buffer[];
  readonly toClient: Buffer[];
}

/** A running proxy. */
export interface TcpProxy {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Whether traffic is held now. */
  readonly holding: boolean;
  /** Holds all traffic, both ways, on open and new connections (nothing is lost: it waits). */
  hold(): void;
  /**
   * Holds only Redis's replies: requests still reach Redis and run, their answers wait. With `cut()` after it, a
   * connection drops after a command ran and before its reply arrived.
   */
  holdReplies(): void;
  /** Lets held and new traffic flow again. */
  resume(): void;
  /** Destroys every open connection (new ones are still accepted). */
  cut(): void;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

/** Starts a proxy to `targetPort` on 127.0.0.1 (a free port of its own unless `port` is given). */
export function startTcpProxy(targetPort: number, port = 0): Promise<TcpProxy> {
  const links = new Set<Link>();
  let holding = false;
  let holdingReplies = false;

  const forward = (to: Socket, queue: Buffer[], data: Buffer): void => {
    if (holding || queue.length > 0) queue.push(data);
    else to.write(data);
  };
  const flush = (link: Link): void => {
    for (const b of link.toUpstream.splice(0)) link.upstream.write(b);
    for (const b of link.toClient.splice(0)) link.client.write(b);
  };

  const server: Server = createServer((client) => {
    const upstream = new Socket();
    const link: Link = { client, upstream, toUpstream: [], toClient: [] };
    links.add(link);
    client.on('data', (d: Buffer) => forward(upstream, link.toUpstream, d));
    upstream.on('data', (d: Buffer) => (holdingReplies ? link.toClient.push(d) : forward(client, link.toClient, d)));
    // An end is traffic too: while holding, it waits with the bytes (a close that cannot be seen).
    const closeWhenFlowing = (): void => {
      const later = (): void => {
        if (holding) setTimeout(later, 20);
        else {
          flush(link);
          links.delete(link);
          client.end();
          upstream.end();
        }
      };
      later();
    };
    client.on('close', closeWhenFlowing);
    upstream.on('close', closeWhenFlowing);
    client.on('error', () => {});
    upstream.on('error', () => {});
    upstream.connect(targetPort, '127.0.0.1');
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      if (typeof address !== 'object' || address === null) {
        reject(new Error('the proxy has no address'));
        return;
      }
      resolve({
        port: address.port,
        url: `redis://127.0.0.1:${address.port}`,
        get holding() {
          return holding;
        },
        hold() {
          holding = true;
        },
        holdReplies() {
          holdingReplies = true;
        },
        resume() {
          holding = false;
          holdingReplies = false;
          for (const link of links) flush(link);
        },
        cut() {
          for (const link of [...links]) {
            links.delete(link);
            link.client.destroy();
            link.upstream.destroy();
          }
        },
        close() {
          holding = false;
          holdingReplies = false;
          for (const link of [...links]) {
            links.delete(link);
            link.client.destroy();
            link.upstream.destroy();
          }
          return new Promise<void>((done) => server.close(() => done()));
        },
      });
    });
  });
}
