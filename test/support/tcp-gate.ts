/**
 * An address for the edge that answers only once the test opens it: until then nothing listens
 * on its port (a node gets ECONNREFUSED, as from a computer with no network or an edge that is
 * down); open() starts forwarding every TCP connection to the real edge, byte for byte (HTTP
 * and WebSocket alike). Cheaper than stopping and starting the edge itself, which takes half a
 * minute on a loaded machine; for the node the difference does not show.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { closedPortUrl } from "./helpers.ts";

export type TcpGate = { url: string; open(): Promise<void>; close(): Promise<void> };

export async function tcpGate(target: string): Promise<TcpGate> {
  const url = await closedPortUrl();
  const port = Number(new URL(url).port);
  const to = new URL(target);
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };
  return {
    url,
    open: () =>
      new Promise((resolve, reject) => {
        const listening = createServer((client) => {
          const upstream = createConnection({ host: to.hostname, port: Number(to.port) });
          track(client);
          track(upstream);
          client.pipe(upstream).pipe(client);
          client.on("error", () => upstream.destroy());
          upstream.on("error", () => client.destroy());
        });
        listening.once("error", reject);
        listening.listen(port, "127.0.0.1", () => {
          server = listening;
          resolve();
        });
      }),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      const open = server;
      server = null;
      if (open) await new Promise<void>((resolve) => open.close(() => resolve()));
    },
  };
}
