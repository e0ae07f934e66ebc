import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AlertTransition } from '@vigil/platform';
import type { AlertNotification, SendContext } from '../src/model.js';
import { notificationOf } from '../src/templates/view.js';

/**
 * Test side of the HTTP channels: a loopback server whose handler plays the provider (checks the
 * request as it would, answers as it documents), and sample notifications.
 */

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Receiver {
  url: string;
  received: ReceivedRequest[];
  close(): Promise<void>;
}

export async function startReceiver(handle: (req: ReceivedRequest, res: ServerResponse) => void): Promise<Receiver> {
  const received: ReceivedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(r);
      handle(r, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export const cpuHigh: AlertTransition = {
  fingerprint: 'a1b2c3d4e5f60718',
  status: 'firing',
  severity: 'critical',
  labels: { alertname: 'cpu_high', 'host.name': 'web-1', metric: 'system.cpu.utilization', 'vigil.category': 'host' },
  annotations: { summary: 'CPU on web-1 is at 93%', description: 'Average over 5m above 90%' },
  startsAt: '2024-05-01T12:00:00.000Z',
  value: 0.9312,
  rule: 'cpu_high',
  window: 300_000,
};

export const diskResolved: AlertTransition = {
  fingerprint: 'ffff000011112222',
  status: 'resolved',
  severity: 'warning',
  labels: { alertname: 'disk_full', 'host.name': 'web-2', 'vigil.category': 'host' },
  annotations: { summary: 'Disk / on web-2 at 85%' },
  startsAt: '2024-05-01T11:00:00.000Z',
  endsAt: '2024-05-01T11:30:00.000Z',
  value: 0.85,
  rule: 'disk_full',
  window: 60_000,
};

export function sampleGroup(alerts: AlertTransition[] = [cpuHigh, diskResolved], extra: Partial<AlertNotification> = {}): AlertNotification {
  return { ...notificationOf(alerts, { receiver: 'ops', createdAt: '2024-05-01T12:00:10.000Z', externalUrl: 'http://vigil.local:8080' }), ...extra };
}

export function ctx(key = 'ops/slack[0]:k1'): SendContext {
  return { idempotencyKey: key, signal: new AbortController().signal };
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await p;
  } catch (err) {
    return err as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection, got a result');
}
