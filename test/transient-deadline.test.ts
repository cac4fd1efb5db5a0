/**
 * The client retries transient Cluster refusals (TRYAGAIN and the like) inside, but only until its `timeout`: once the
 * caller has an error no further attempt may reach Redis (it could write a job the caller was told failed). A small
 * RESP server on loopback answers every script call with TRYAGAIN and counts the attempts.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { RedisUnavailableError, createClient, defineJobs } from '../src/index.js';

const jobs = defineJobs({ charge: { payload: z.object({ order: z.number() }) } });

/** Parses complete RESP arrays of bulk strings off the front of `buf`; returns the commands and the rest. */
function parse(buf: Buffer): { commands: string[][]; rest: Buffer } {
  const commands: string[][] = [];
  let pos = 0;
  outer: while (pos < buf.length) {
    let at = pos;
    const line = (): string | undefined => {
      const end = buf.indexOf('\r\n', at);
      if (end < 0) return undefined;
      const text = buf.subarray(at, end).toString('latin1');
      at = end + 2;
      return text;
    };
    const head = line();
    if (head === undefined) break;
    const n = Number(head.slice(1));
    const words: string[] = [];
    for (let i = 0; i < n; i++) {
      const len = line();
      if (len === undefined) break outer;
      const size = Number(len.slice(1));
      if (at + size + 2 > buf.length) break outer;
      words.push(buf.subarray(at, at + size).toString('latin1'));
      at += size + 2;
    }
    commands.push(words);
    pos = at;
  }
  return { commands, rest: buf.subarray(pos) };
}

const INFO = '# Server\r\nloading:0\r\n';

/** A server that answers INFO and CLIENT like Redis and everything else with TRYAGAIN; counts EVALSHA calls. */
async function tryAgainServer(reply = '-TRYAGAIN Multiple keys request during rehashing of slot'): Promise<{ port: number; evalshas: () => number; close: () => Promise<void> }> {
  let evalshas = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('data', (data: Buffer) => {
      const { commands, rest } = parse(Buffer.concat([pending, data]));
      pending = rest;
      for (const [name = ''] of commands) {
        const cmd = name.toUpperCase();
        if (cmd === 'INFO') socket.write(`$${INFO.length}\r\n${INFO}\r\n`);
        else if (cmd === 'CLIENT' || cmd === 'SELECT') socket.write('+OK\r\n');
        else {
          if (cmd === 'EVALSHA') evalshas++;
          socket.write(`${reply}\r\n`);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  return {
    port: address.port,
    evalshas: () => evalshas,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

describe('a plain connection to a Cluster node', () => {
  it('says to connect as a Cluster instead of retrying MOVED as a slot move', async () => {
    const fake = await tryAgainServer('-MOVED 3999 127.0.0.1:7001');
    closers.push(fake.close);
    const client = createClient(jobs, { redis: `redis://127.0.0.1:${fake.port}`, timeout: '20s', logger: false });
    closers.push(() => client.close());
    const err = await client.enqueue('charge', { order: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect((err as Error).message).toMatch(/is a Redis Cluster node .*MOVED.*connect with \{ cluster: \[nodes\] \}; nothing was written/);
  });
});

describe('transient refusals are retried only within the timeout', () => {
  it('makes no attempt after the caller got its error', async () => {
    const fake = await tryAgainServer();
    closers.push(fake.close);
    // A budget that holds several loopback round trips even on a loaded CI machine (at 300 ms, a stalled first reply
    // ended the call as "did not answer" instead of a refusal).
    const client = createClient(jobs, { redis: `redis://127.0.0.1:${fake.port}`, timeout: 2_000, logger: false });
    closers.push(() => client.close());

    const err = await client.enqueue('charge', { order: 1 }, { jobId: 'o1' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect((err as Error).message).toMatch(/TRYAGAIN/);
    const atError = fake.evalshas();
    expect(atError).toBeGreaterThan(1); // it did retry
    // Refused every time until the next wait would pass the deadline: a definite answer, before the time-out.
    expect((err as Error).message).toMatch(/refused it \d+ times .*nothing was written/);
    // Nothing more reaches Redis afterwards (before, the retries went on for about 2.5 s behind the caller's back).
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(fake.evalshas()).toBe(atError);
  });
});
