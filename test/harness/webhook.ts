import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HookSink<T> {
  /** http://127.0.0.1:<port>/hook (any path is taken). */
  url: string;
  /** Every body received, parsed as JSON and mapped, in arrival order. */
  hooks: T[];
  close(): Promise<void>;
}

/**
 * A webhook receiver on a free loopback port, as the notifier's webhook channel and
 * Alertmanager-style receivers are pointed at: it answers 200 to every POST and keeps the JSON
 * bodies (through `map` when given).
 */
export async function startHookSink<T = unknown>(map: (body: unknown, req: IncomingMessage) => T = (b) => b as T): Promise<HookSink<T>> {
  const hooks: T[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        hooks.push(map(JSON.parse(Buffer.concat(chunks).toString('utf8')), req));
        res.writeHead(200).end('ok');
      } catch (err) {
        res.writeHead(400).end(String(err));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    hooks,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
