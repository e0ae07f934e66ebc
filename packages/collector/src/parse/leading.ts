/**
 * What the first characters of a line must be for a rule anchored at the start (`^...`) to
 * match, so that the parser can pass a rule over with a few table lookups instead of running its
 * regex: most rules of a pack are formats that cannot match most lines, and many formats start
 * alike (a digit) but differ a few characters in (`2024-01-15 ` against `203.0.113.5 `). Pure;
 * errs on the side of "any character" whenever a pattern is beyond this small reading of regex
 * syntax.
 */

/** The characters one position can hold. */
export interface CharSet {
  /** ASCII characters allowed there (1) or not (0). */
  ascii: Uint8Array;
  /** Whether characters beyond ASCII are allowed there. */
  other: boolean;
}

/** Positions read at most: enough to tell timestamps and prefixes apart, few enough to stay cheap. */
const MAX_POSITIONS = 12;

/**
 * The sets of the first characters of any match, position by position from the start of the
 * line; undefined when the regex is not anchored at the start of every alternative, may match an
 * empty line, or is beyond this reading.
 */
export function leadingChars(source: string, flags: string): CharSet[] | undefined {
  if (flags.includes('m')) return undefined;
  const r = new Reader(source, flags.includes('i'));
  try {
    let all: CharSet[] | undefined;
    // Every top-level alternative must start with ^; the positions are those all alternatives fix.
    for (;;) {
      if (r.peek() !== '^') return undefined;
      r.pos++;
      const positions = r.sequence().positions;
      if (positions.length === 0) return undefined;
      all = all === undefined ? positions : merge(all, positions);
      if (r.pos >= source.length) return all.slice(0, MAX_POSITIONS);
      if (r.peek() !== '|') return undefined;
      r.pos++;
    }
  } catch (err) {
    if (err instanceof Unsure) return undefined;
    throw err;
  }
}

function merge(a: CharSet[], b: CharSet[]): CharSet[] {
  const n = Math.min(a.length, b.length);
  const out: CharSet[] = [];
  for (let i = 0; i < n; i++) {
    const s = emptySet();
    for (let c = 0; c < 128; c++) s.ascii[c] = a[i]!.ascii[c]! | b[i]!.ascii[c]!;
    s.other = a[i]!.other || b[i]!.other;
    out.push(s);
  }
  return out;
}

const emptySet = (): CharSet => ({ ascii: new Uint8Array(128), other: false });

class Unsure extends Error {}

const DIGITS = '0123456789';
const WORD = `abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ${DIGITS}_`;
const SPACE = ' \t\n\r\v\f';

/** An atom read: the characters it starts with, and how many times it repeats. */
interface Atom {
  set: CharSet;
  /** Fewest repetitions; 0 when the atom is optional. */
  min: number;
  /** Whether it always spans exactly `min` characters (one-character atoms repeated exactly). */
  fixed: boolean;
  /** For a group of one alternative that is not repeated: the positions it fixes, and whether it fixes all of its width. */
  inner?: { positions: CharSet[]; complete: boolean };
}

interface Sequence {
  positions: CharSet[];
  /** Whether every character of the sequence is fixed by `positions` (it ended without a variable part). */
  complete: boolean;
}

class Reader {
  pos = 0;
  constructor(
    private readonly src: string,
    private readonly ignoreCase: boolean,
  ) {}

  peek(): string | undefined {
    return this.src[this.pos];
  }

  /**
   * The positions the sequence at pos fixes (up to | or ) or the end, which it leaves pos at):
   * one set per character while its atoms are single characters repeated a fixed number of
   * times, then the first characters of the next atom (with those of any optional atoms before
   * it). Empty when the sequence may match nothing.
   */
  sequence(): Sequence {
    const out: CharSet[] = [];
    let open: CharSet | undefined; // a position where optional atoms may or may not start
    const stop = (): Sequence => {
      this.skipRest();
      return { positions: out, complete: false };
    };
    for (;;) {
      const c = this.peek();
      if (c === undefined || c === '|' || c === ')') return { positions: out, complete: open === undefined }; // an open position is not required: dropped
      const start = this.pos;
      let atom: Atom;
      try {
        atom = this.atom();
      } catch (err) {
        // Beyond this reading: what is fixed before it still holds.
        if (!(err instanceof Unsure) || out.length === 0 || open !== undefined) throw err;
        this.pos = start;
        return stop();
      }
      if (open !== undefined) {
        union(open, atom.set);
        if (atom.min > 0) {
          out.push(open);
          return stop();
        }
        continue;
      }
      if (atom.min === 0) {
        open = copy(atom.set);
        continue;
      }
      if (atom.inner !== undefined) {
        for (const p of atom.inner.positions) if (out.length < MAX_POSITIONS) out.push(p);
        if (!atom.inner.complete || out.length >= MAX_POSITIONS) return stop();
        continue;
      }
      for (let i = 0; i < atom.min && out.length < MAX_POSITIONS; i++) out.push(atom.set);
      if (!atom.fixed || out.length >= MAX_POSITIONS) return stop();
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

  /** Reads one atom and its quantifier. */
  private atom(): Atom {
    const c = this.src[this.pos]!;
    const set = emptySet();
    if (c === '(') {
      this.pos++;
      if (this.src.startsWith('?:', this.pos)) this.pos += 2;
      else if (this.src.startsWith('?<', this.pos) && this.src[this.pos + 2] !== '=' && this.src[this.pos + 2] !== '!') {
        const end = this.src.indexOf('>', this.pos);
        if (end < 0) throw new Unsure();
        this.pos = end + 1;
      } else if (this.peek() === '?') throw new Unsure(); // lookarounds
      let empty = false;
      const alternatives: Sequence[] = [];
      for (;;) {
        const seq = this.sequence();
        alternatives.push(seq);
        if (seq.positions.length === 0) empty = true;
        else union(set, seq.positions[0]!);
        const next = this.peek();
        if (next === '|') this.pos++;
        else if (next === ')') {
          this.pos++;
          break;
        } else throw new Unsure();
      }
      const q = this.quantifier();
      if (empty) return { set, min: 0, fixed: false };
      // A group of one alternative, once: its own positions. Otherwise only its first characters count.
      if (alternatives.length === 1 && q.min === 1 && q.exact) return { set, min: 1, fixed: false, inner: alternatives[0] };
      return { set, min: Math.min(q.min, 1), fixed: false };
    }
    if (c === '[') this.charClass(set);
    else if (c === '\\') this.escape(set);
    else if (c === '.' || c === '^' || c === '$' || c === '*' || c === '+' || c === '?' || c === '{') throw new Unsure();
    else {
      this.pos++;
      this.add(set, c);
    }
    const q = this.quantifier();
    return { set, min: q.min, fixed: q.exact };
  }

  /** Reads a quantifier if there is one: the fewest repetitions, and whether that is also the most. */
  private quantifier(): { min: number; exact: boolean } {
    const q = this.peek();
    if (q === '?' || q === '*' || q === '+') {
      this.pos++;
      if (this.peek() === '?') this.pos++;
      return { min: q === '+' ? 1 : 0, exact: false };
    }
    if (q === '{') {
      const m = /^\{(\d+)(,\d*)?\}\??/.exec(this.src.slice(this.pos));
      if (!m) throw new Unsure();
      this.pos += m[0].length;
      const min = Number(m[1]);
      return { min, exact: m[2] === undefined };
    }
    return { min: 1, exact: true };
  }

  private charClass(set: CharSet): void {
    this.pos++;
    if (this.peek() === '^') throw new Unsure();
    let first = true;
    while (this.pos < this.src.length) {
      const c = this.src[this.pos]!;
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
        for (let code = c.charCodeAt(0); code <= to.charCodeAt(0); code++) this.add(set, String.fromCharCode(code));
        continue;
      }
      this.add(set, c);
    }
    throw new Unsure();
  }

  /** An escape at pos (outside or inside a class): the characters it stands for. */
  private escape(set: CharSet): void {
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

  private addAll(set: CharSet, chars: string): void {
    for (const c of chars) this.add(set, c);
  }

  private add(set: CharSet, c: string): void {
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

function union(into: CharSet, from: CharSet): void {
  for (let c = 0; c < 128; c++) into.ascii[c] = into.ascii[c]! | from.ascii[c]!;
  into.other ||= from.other;
}

function copy(s: CharSet): CharSet {
  return { ascii: s.ascii.slice(), other: s.other };
}
