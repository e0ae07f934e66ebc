import { mkdir, open } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { StaticDecode } from '@sinclair/typebox';
import type { AlertNotification, NotificationChannel, RenderedMessage } from '../../model.js';
import { DeliveryError, type ChannelDeps } from '../channel.js';
import type { FileOptions } from './config.js';

/**
 * Channel "file": an outbox of JSON lines, one object per notification, appended and fsync'd
 * before the send counts as done, so what the ledger records as sent is on disk. The all-in-one
 * default: another program (or a person with `tail -f | jq`) reads it.
 */

export type FileChannelOptions = StaticDecode<typeof FileOptions>;

/** One outbox line (without the newline). */
export function fileLine(n: AlertNotification, m: RenderedMessage, channel: string, idempotencyKey: string): string {
  return JSON.stringify({
    idempotencyKey,
    channel,
    key: n.key,
    receiver: n.receiver,
    status: n.status,
    severity: n.severity,
    title: m.title ?? '',
    text: m.text ?? '',
    notification: n,
  });
}

export function fileChannel(options: FileChannelOptions, deps: ChannelDeps & { dataDir?: string }): NotificationChannel {
  const path = isAbsolute(options.path) ? options.path : resolve(deps.dataDir ?? '.', options.path);
  const render = (n: AlertNotification): RenderedMessage => ({
    title: deps.templates.render('file', 'title', n),
    text: deps.templates.render('file', 'text', n),
  });
  // Appends one at a time so lines never interleave, whatever the callers do concurrently.
  let tail: Promise<unknown> = Promise.resolve();
  const append = async (line: string) => {
    await mkdir(dirname(path), { recursive: true });
    const fh = await open(path, 'a', 0o640);
    try {
      await fh.write(`${line}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
  };
  return {
    kind: 'file',
    name: deps.name,
    render,
    async send(n, ctx) {
      const line = fileLine(n, render(n), deps.name, ctx.idempotencyKey);
      const done = tail.then(() => append(line));
      tail = done.catch(() => undefined);
      try {
        await done;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        // A full disk may clear; a path we may not write to will not.
        const permanent = code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR' || code === 'EEXIST' || code === 'EROFS';
        throw new DeliveryError(`file channel "${deps.name}": cannot append to ${path} (${code}${permanent ? ', not retried: fix the path or its permissions' : ', will retry'})`, {
          permanent,
          cause: err,
        });
      }
      return { detail: path };
    },
  };
}
