/**
 * A TCP proxy a test can cut: while blocked it drops live connections and refuses new ones; while
 * stalled it keeps connections open and holds every byte back until unblocked, as a network
 * blackhole does (TCP retransmits what was lost once the path heals).
 */
import { createServer, type Socket, connect } from 'node:net';

export interface TcpProxy {
  port: number;
  block(): void;
  stall(): void;
  unblock(): void;
  close(): Promise<void>;
}

export async function createTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let blocked = false;
  let stalled = false;
  let held: [Socket, Buffer][] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    if (blocked) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
    }
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (chunk) => {
        if (stalled) held.push([to, chunk]);
        else to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    block() {
      blocked = true;
      for (const socket of sockets) socket.destroy();
    },
    stall() {
      stalled = true;
    },
    unblock() {
      blocked = false;
      stalled = false;
      for (const [to, chunk] of held) if (!to.destroyed) to.write(chunk);
      held = [];
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
