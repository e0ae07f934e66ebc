/**
 * Bytes of one log line into text. Invalid UTF-8 becomes U+FFFD (Buffer's decoder replaces each
 * maximal invalid subpart, as WHATWG's TextDecoder does), so binary garbage is never fatal.
 */
export type LineEncoding = 'utf8' | 'latin1' | 'ascii';

/**
 * The largest length ≤ `max` at which `buf[start, start+len)` does not end inside a UTF-8
 * sequence, so truncating a long line does not manufacture a replacement character. Bytes that are
 * not valid UTF-8 are left as they are (they decode to U+FFFD either way).
 */
export function utf8Boundary(buf: Buffer, start: number, max: number): number {
  if (max <= 0) return 0;
  // Walk back over at most 3 continuation bytes to the lead byte of the last sequence.
  let i = start + max - 1;
  let back = 0;
  while (back < 3 && i > start && (buf[i]! & 0xc0) === 0x80) {
    i--;
    back++;
  }
  const lead = buf[i]!;
  const need = lead >= 0xf0 && lead <= 0xf4 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc2 && lead < 0xe0 ? 2 : 1;
  if ((lead & 0xc0) === 0x80 || lead < 0x80 || need === 1) return max; // ASCII, stray continuation or invalid lead: cut anywhere
  const have = back + 1;
  return have >= need ? max : i - start;
}

/** Decodes `buf[start, end)`; for UTF-8, invalid sequences become U+FFFD. */
export function decodeLine(buf: Buffer, start: number, end: number, encoding: LineEncoding): string {
  return buf.toString(encoding, start, end);
}
