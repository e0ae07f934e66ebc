/**
 * The characters a line must start with for a rule anchored at the start (`^...`) to match, so
 * that the parser can skip the rule with one table lookup instead of running the regex: most
 * rules of a pack are formats that cannot match most lines. Pure; errs on the side of "any
 * character" whenever the pattern is beyond this small reading of regex syntax.
 */

export interface LeadingChars {
  /** ASCII characters a match can start with (1) or not (0). */
  ascii: Uint8Array;
  /** Whether a character beyond ASCII can start a match. */
  other: boolean;
}

/** Returns undefined when the regex is not anchored at the start of every alternative, or when it cannot tell. */
export function leadingChars(source: string, flags: string): LeadingChars | undefined {
  if (flags.includes('m')) return undefined;
  const set: LeadingChars = { ascii: new Uint8Array(128), other: false };
  const r = new Reader(source, flags.includes('i'));
  try {
    // Every top-level alternative must start with ^.
    for (;;) {
      if (r.peek() !== '^') return undefined;
      r.pos++;
      if (!r.sequence(set)) return undefined;
      if (r.pos >= source.length) return set;
      if (r.peek() !== '|') return undefined;
      r.pos++;
    }
  } catch (err) {
    if (err instanceof Unsure) return undefined;
    throw err;
  }
}

class Unsure extends Error {}

const DIGITS = '0123456789';
const WORD = `abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ${DIGITS}_`;
const SPACE = ' \t\n\r\v\f';

class Reader {
  pos = 0;
  constructor(
    private readonly src: string,
    private readonly ignoreCase: boolean,
  ) {}

  peek(): string | undefined {
    return this.src[this.pos];
  }

  /** Adds the first characters of the sequence at pos (up to | or ) or the end) to `set`; false when the sequence can match empty. */
  sequence(set: LeadingChars): boolean {
    for (;;) {
      const c = this.peek();
      if (c === undefined || c === '|' || c === ')') return false;
      const optional = this.atom(set);
      if (!optional) {
        this.skipRest();
        return true;
      }
    }
  }

  /** Skips to the end of the current sequence (the next | or ) at this depth, or the end). */
  private skipRest(): void {
    let depth = 0;
    let inClass = false;
    while (this.pos < this.src.length) {
      const c = this.src[this.pos]!;
      if (c === '\\') {
        this.pos += 2;
        continue;
      }
      if (inClass) {
        if (c === ']') inClass = false;
      } else if (c === '[') inClass = true;
      else if (c === '(') depth++;
      else if (c === ')') {
        if (depth === 0) return;
        depth--;
      } else if (c === '|' && depth === 0) return;
      this.pos++;
    }
  }

  /** Reads one atom and its quantifier, adding its first characters; true when it may match nothing. */
  private atom(set: LeadingChars): boolean {
    const c = this.src[this.pos]!;
    if (c === '(') {
      this.pos++;
      if (this.src.startsWith('?:', this.pos)) this.pos += 2;
      else if (this.src.startsWith('?<', this.pos) && this.src[this.pos + 2] !== '=' && this.src[this.pos + 2] !== '!') {
        const end = this.src.indexOf('>', this.pos);
        if (end < 0) throw new Unsure();
        this.pos = end + 1;
      } else if (this.peek() === '?') throw new Unsure(); // lookarounds
      let empty = false;
      for (;;) {
        if (!this.sequence(set)) empty = true;
        const next = this.peek();
        if (next === '|') this.pos++;
        else if (next === ')') {
          this.pos++;
          break;
        } else throw new Unsure();
      }
      return this.quantifier() || empty;
    }
    if (c === '[') {
      this.charClass(set);
      return this.quantifier();
    }
    if (c === '\\') {
      this.escape(set);
      return this.quantifier();
    }
    if (c === '.' || c === '^' || c === '$' || c === '*' || c === '+' || c === '?' || c === '{') throw new Unsure();
    this.pos++;
    this.add(set, c);
    return this.quantifier();
  }

  /** Reads a quantifier if there is one; true when it allows zero repetitions. */
  private quantifier(): boolean {
    const q = this.peek();
    if (q === '?' || q === '*') {
      this.pos++;
      if (this.peek() === '?') this.pos++;
      return true;
    }
    if (q === '+') {
      this.pos++;
      if (this.peek() === '?') this.pos++;
      return false;
    }
    if (q === '{') {
      const m = /^\{(\d+)(?:,\d*)?\}\??/.exec(this.src.slice(this.pos));
      if (!m) throw new Unsure();
      this.pos += m[0].length;
      return m[1] === '0';
    }
    return false;
  }

  private charClass(set: LeadingChars): void {
    this.pos++;
    if (this.peek() === '^') throw new Unsure();
    let first = true;
    while (this.pos < this.src.length) {
      let c = this.src[this.pos]!;
      if (c === ']' && !first) {
        this.pos++;
        return;
      }
      first = false;
      if (c === '\\') {
        this.escape(set);
        continue;
      }
      this.pos++;
      if (this.peek() === '-' && this.src[this.pos + 1] !== ']' && this.src[this.pos + 1] !== undefined) {
        const to = this.src[this.pos + 1]!;
        if (to === '\\') throw new Unsure();
        this.pos += 2;
        for (let code = c.charCodeAt(0); code <= to.charCodeAt(0); code++) {
          c = String.fromCharCode(code);
          this.add(set, c);
        }
        continue;
      }
      this.add(set, c);
    }
    throw new Unsure();
  }

  /** An escape at pos (outside or inside a class): the characters it stands for. */
  private escape(set: LeadingChars): void {
    const e = this.src[this.pos + 1];
    this.pos += 2;
    if (e === 'd') this.addAll(set, DIGITS);
    else if (e === 'w') this.addAll(set, WORD);
    else if (e === 's') {
      this.addAll(set, SPACE);
      set.other = true;
    } else if (e === 't') this.add(set, '\t');
    else if (e !== undefined && /[^A-Za-z0-9]/.test(e)) this.add(set, e);
    else throw new Unsure(); // \S, \b, \p{...}, \u..., \x..., backreferences
  }

  private addAll(set: LeadingChars, chars: string): void {
    for (const c of chars) this.add(set, c);
  }

  private add(set: LeadingChars, c: string): void {
    const code = c.charCodeAt(0);
    if (code >= 128) {
      set.other = true;
      return;
    }
    set.ascii[code] = 1;
    if (this.ignoreCase) {
      const lower = c.toLowerCase().charCodeAt(0);
      const upper = c.toUpperCase().charCodeAt(0);
      if (lower < 128) set.ascii[lower] = 1;
      if (upper < 128) set.ascii[upper] = 1;
      // With the i flag, k and s also match the Kelvin and long-s signs.
      if (c === 'k' || c === 'K' || c === 's' || c === 'S') set.other = true;
    }
  }
}
