import { Type } from '@sinclair/typebox';

/** Options of the `file` channel: an outbox of JSON lines. */
export const FileOptions = Type.Object(
  {
    path: Type.String({
      minLength: 1,
      default: 'notifications.jsonl',
      description: 'File that each notification is appended to as one JSON line, flushed to disk before it counts as sent; a relative path is under the data directory.',
    }),
  },
  { additionalProperties: false },
);
