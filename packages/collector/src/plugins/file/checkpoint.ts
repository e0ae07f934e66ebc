import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Fingerprint, Known } from './fingerprint.js';

/** One file's acknowledged position: every byte before `offset` is durable downstream. */
export interface CheckpointEntry extends Known {
  path: string;
  /** When the file was last seen (ms since the epoch), to forget files long gone. */
  seen: number;
}

const VERSION = 1;
const FILE = 'checkpoints.json';

/** Parses a checkpoint file; anything unreadable yields no entries (the caller logs it and starts per `startAt`). */
export function parseCheckpoints(text: string): CheckpointEntry[] {
  const doc = JSON.parse(text) as { version?: number; files?: unknown[] };
  if (doc.version !== VERSION || !Array.isArray(doc.files)) throw new Error(`unknown checkpoint format (version ${String(doc.version)})`);
  const out: CheckpointEntry[] = [];
  for (const f of doc.files) {
    const e = f as Partial<CheckpointEntry> & { fingerprint?: Partial<Fingerprint> };
    if (typeof e.offset !== 'number' || typeof e.fingerprint?.hash !== 'string' || typeof e.fingerprint.length !== 'number') continue;
    out.push({
      fingerprint: { length: e.fingerprint.length, hash: e.fingerprint.hash },
      offset: e.offset,
      dev: Number(e.dev ?? 0),
      ino: Number(e.ino ?? 0),
      path: String(e.path ?? ''),
      seen: Number(e.seen ?? 0),
    });
  }
  return out;
}

export function formatCheckpoints(entries: CheckpointEntry[]): string {
  return JSON.stringify({ version: VERSION, files: entries });
}

/** Keeps the entries seen within `maxAgeMs`, newest first, at most `max` of them. */
export function pruneCheckpoints(entries: CheckpointEntry[], now: number, maxAgeMs: number, max: number): CheckpointEntry[] {
  return entries
    .filter((e) => now - e.seen <= maxAgeMs)
    .sort((a, b) => b.seen - a.seen)
    .slice(0, max);
}

/** The checkpoint file in the plugin's state directory, written atomically (temporary file, then rename). */
export class CheckpointStore {
  private readonly path: string;
  private writing: Promise<void> | undefined;
  private next: (() => CheckpointEntry[]) | undefined;

  constructor(dir: string) {
    this.path = join(dir, FILE);
  }

  async load(): Promise<CheckpointEntry[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    try {
      return parseCheckpoints(text);
    } catch (err) {
      throw new Error(`${this.path}: ${(err as Error).message}`);
    }
  }

  /**
   * Writes what `snapshot` returns, at most one write at a time: a save asked for while one is
   * running is coalesced into a single later write of the newest state.
   */
  save(snapshot: () => CheckpointEntry[]): Promise<void> {
    this.next = snapshot;
    this.writing ??= (async () => {
      try {
        while (this.next) {
          const take = this.next;
          this.next = undefined;
          const tmp = `${this.path}.tmp`;
          await writeFile(tmp, formatCheckpoints(take()));
          await rename(tmp, this.path);
        }
      } finally {
        this.writing = undefined;
      }
    })();
    return this.writing;
  }
}
