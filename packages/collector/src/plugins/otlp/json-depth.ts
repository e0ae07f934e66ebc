/**
 * How deep a JSON text nests, found by a byte scan before JSON.parse: a body nested thousands of
 * levels deep would overflow the stack of the parser or of the decoders walking what it returns.
 */

/** Deepest nesting of arrays and objects the intake accepts (OTLP/JSON needs about 12, plus 4 per nested kvlistValue). */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The byte offset at which `body` first opens an array or object deeper than `max`, or -1 when it
 * never does. Brackets inside strings do not count; the text need not be valid JSON (the parser
 * says what else is wrong). UTF-8 continuation bytes are never ASCII, so a byte scan is exact.
 */
export function jsonTooDeepAt(body: Uint8Array, max = MAX_JSON_DEPTH): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const b = body[i]!;
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) inString = true;
    else if (b === 0x7b || b === 0x5b) {
      if (++depth > max) return i;
    } else if (b === 0x7d || b === 0x5d) depth--;
  }
  return -1;
}
