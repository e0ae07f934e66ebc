import { Type } from '@sinclair/typebox';
import { Duration } from '@vigil/platform';

/**
 * The multiline options of the file plugin, also taken by `vigil parse` so that a sample is
 * read as it will be tailed.
 */
export const MultilineSchema = Type.Object(
  {
    startPattern: Type.String({ format: 'regex', description: 'A line matching this regular expression starts a record; any other line is appended to the previous one (stack traces).', examples: ['^\\d{4}-\\d{2}-\\d{2}'] }),
    flushTimeout: Duration({ default: '1s', description: 'A record is emitted when no line has been added to it for this long.' }),
    maxLines: Type.Integer({ minimum: 1, default: 500, description: 'A record holds at most this many lines; the next one starts a new record.' }),
  },
  { additionalProperties: false, description: 'Joins continuation lines into one record.' },
);

/** One assembled record: its text, the file offset just past its last line, and whether any part was cut. */
export interface Assembled {
  text: string;
  end: number;
  truncated: boolean;
}

export interface MultilineOptions {
  /** A line matching this starts a new record; any other line continues the previous one (stack traces). */
  startPattern: RegExp;
  /** A record waiting for more lines is emitted after this long without one. */
  flushTimeout: number;
  /** A record never holds more than this many lines; the next line starts a new one. */
  maxLines: number;
  /** A record never holds more than this many characters; what would exceed it is dropped and the record marked truncated. */
  maxChars: number;
}

/**
 * Joins continuation lines onto the line that started them. Pure: time comes in as `now`.
 * Offsets come with every line so a record's `end` is where a restart resumes without splitting it.
 */
export class MultilineAssembler {
  private lines: string[] = [];
  private chars = 0;
  private end = 0;
  private truncated = false;
  private since = 0;

  constructor(private readonly opts: MultilineOptions) {}

  get pending(): boolean {
    return this.lines.length > 0;
  }

  /** Adds a line; returns the record it completes, if it starts a new one. */
  push(text: string, end: number, truncated: boolean, now: number): Assembled | undefined {
    let done: Assembled | undefined;
    if (this.lines.length > 0 && (this.opts.startPattern.test(text) || this.lines.length >= this.opts.maxLines)) done = this.take();
    this.since = now;
    const room = this.opts.maxChars - this.chars - (this.lines.length > 0 ? 1 : 0);
    if (room >= text.length) {
      this.lines.push(text);
      this.chars += text.length + (this.lines.length > 1 ? 1 : 0);
    } else {
      if (room > 0) {
        this.lines.push(text.slice(0, room));
        this.chars += room + (this.lines.length > 1 ? 1 : 0);
      } else if (this.lines.length === 0) {
        this.lines.push('');
      }
      truncated = true;
    }
    this.end = end;
    this.truncated ||= truncated;
    return done;
  }

  /** The waiting record, if it has waited `flushTimeout` since its last line (or always, with `force`). */
  flush(now: number, force = false): Assembled | undefined {
    if (this.lines.length === 0) return undefined;
    if (!force && now - this.since < this.opts.flushTimeout) return undefined;
    return this.take();
  }

  /** Drops what is waiting (a truncated file starts over). */
  reset(): void {
    this.lines = [];
    this.chars = 0;
    this.truncated = false;
  }

  private take(): Assembled {
    const out = { text: this.lines.length === 1 ? this.lines[0]! : this.lines.join('\n'), end: this.end, truncated: this.truncated };
    this.reset();
    return out;
  }
}
