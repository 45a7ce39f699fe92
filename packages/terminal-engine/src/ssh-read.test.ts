import { createHash } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { STREAMING_READ_BYTES, sshServerSocket } from './ssh-connect.js';

/** A loopback server whose one connection `serve` drives; the client is the engine's SSH socket. */
async function pair(serve: (conn: net.Socket) => void) {
  const server = net.createServer(serve);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sock = sshServerSocket();
  await new Promise<void>((r) =>
    sock.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port }, r),
  );
  servers.push(server);
  sockets.push(sock);
  return sock;
}
const servers: net.Server[] = [];
const sockets: net.Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

describe('the SSH socket', () => {
  it('hands over a fast stream whole and in order, resting briefly between reads while it streams', async () => {
    const data = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 131 + (i >> 12)) & 0xff;
    let rested = 0;
    const sock = await pair((conn) => {
      // In pieces of a few KiB, one per turn of the event loop, as sshd sends a PTY's output.
      let at = 0;
      const next = () => {
        if (at >= data.length) return void conn.end();
        const piece = data.subarray(at, at + 4096);
        at += piece.length;
        if (conn.write(piece)) setImmediate(next);
        else conn.once('drain', next);
      };
      next();
    });
    const hash = createHash('sha256');
    let received = 0;
    sock.on('data', (chunk: Buffer) => {
      // Chunks are the socket's own copies: still intact when looked at later.
      hash.update(chunk);
      received += chunk.length;
      // Whether the socket paused after this read (it decides once the read is handed over).
      queueMicrotask(() => {
        if (sock.isPaused()) rested++;
      });
    });
    await new Promise((r) => sock.once('end', r));
    expect(received).toBe(data.length);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    // 8 MiB streaming in: it rested between reads.
    expect(rested).toBeGreaterThan(0);
  });

  it('never rests for output that trickles in, like typing and its echo', async () => {
    let paused = 0;
    const sock = await pair((conn) => {
      let n = 0;
      const timer = setInterval(() => {
        conn.write(Buffer.alloc(512, 0x61));
        if (++n === 20) {
          clearInterval(timer);
          conn.end();
        }
      }, 10);
    });
    let received = 0;
    sock.on('data', (chunk: Buffer) => {
      received += chunk.length;
      queueMicrotask(() => {
        if (sock.isPaused()) paused++;
      });
    });
    await new Promise((r) => sock.once('end', r));
    expect(received).toBe(20 * 512);
    expect(20 * 512).toBeLessThan(STREAMING_READ_BYTES);
    expect(paused).toBe(0);
  });
});
