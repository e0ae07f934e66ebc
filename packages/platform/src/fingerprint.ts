import { createHash } from 'node:crypto';

/**
 * Error fingerprints, as error trackers group issues: the same bug on fifty hosts is one
 * fingerprint, two different bugs are two. Pure.
 *
 * A record with an exception (`exception.type`, `exception.message`, `exception.stacktrace`, or a
 * traceback in its body, as the collector's multiline parsing joins it) is fingerprinted by its
 * exception type and its top in-app frames (file name, function, line); paths, hex numbers and ids
 * are normalised so deploy directories, addresses and request ids do not split a group. A record
 * without frames is fingerprinted by its type (or `vigil.category`) and its message with numbers,
 * ids and quoted values blanked out. Ingest stores the result on the `otel_logs` row as the log
 * attribute `vigil.error.fingerprint`; the rules worker computes the same for the alerts it groups.
 */

export const ERROR_FINGERPRINT_ATTRIBUTE = 'vigil.error.fingerprint';

/** Frames that count: the ones nearest the error. */
const MAX_FRAMES = 5;

export interface ErrorRecord {
  body: string;
  attributes: Readonly<Record<string, string>>;
}

export interface ErrorSignature {
  /** Exception type, or the record's category when it has no exception. */
  type: string;
  /** Normalised in-app frames, nearest the error first: `file:function:line`. */
  frames: string[];
  /** The normalised message; part of the fingerprint only when there are no frames. */
  message: string;
}

interface Frame {
  file: string;
  fn: string;
  line: string;
  inApp: boolean;
}

const PYTHON_FRAME = /^\s*File "([^"]+)", line (\d+), in (\S+)/;
const JAVA_FRAME = /^\s*at ((?:[\w$]+[./])*[\w$<>]+)\.([\w$<>]+)\(([^:)]*)(?::(\d+))?\)\s*$/;
const NODE_FRAME = /^\s*at (?:(?:async )?(.+?) \()?([^()\s]+?):(\d+):\d+\)?\s*$/;
const EXCEPTION_LINE = /^\s*(?:Exception in thread "[^"]*" |Caused by: |Uncaught |Unhandled (?:exception|rejection): )?((?:[A-Za-z_$][\w$]*\.)*[A-Za-z_$][\w$]*(?:Error|Exception|Exit|Interrupt|Fault|Panic|Warning))(?::|\s*$)/;

const LIBRARY_PATH = /(?:site-packages|dist-packages|node_modules|\/lib\/python\d|<frozen |^node:|^internal\/|\/usr\/lib\/|\/usr\/local\/lib\/)/;
const LIBRARY_CLASS = /^(?:java|javax|jdk|sun|com\.sun|kotlin|kotlinx|scala)\./;

/** Blanks what differs between occurrences of one error: addresses, ids, numbers, quoted values. */
export function normaliseText(text: string): string {
  return text
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<id>')
    .replace(/0x[0-9a-f]+/gi, '<hex>')
    .replace(/\b[0-9a-f]{12,}\b/gi, '<hex>')
    .replace(/'[^'\n]*'|"[^"\n]*"/g, '<str>')
    .replace(/\d+(?:\.\d+)*/g, '<n>');
}

/** The last path segment, without what varies between deploys. */
function fileName(path: string): string {
  const base = path.replace(/\\/g, '/').split('/').pop() ?? path;
  return base.replace(/\?.*$/, '').replace(/[.-][0-9a-f]{8,}(?=\.)/gi, '');
}

/** Generated names (lambdas, proxies, closures) without their counters and hashes. */
function functionName(fn: string): string {
  return fn.replace(/\$\$[\w$]*?[0-9a-f]{6,}[\w$]*/gi, '$$<gen>').replace(/\$\d+/g, '$<n>').replace(/0x[0-9a-f]+/gi, '<hex>');
}

function parseFrames(text: string): { frames: Frame[]; newestLast: boolean } {
  const frames: Frame[] = [];
  let python = 0;
  for (const line of text.split('\n')) {
    let m = PYTHON_FRAME.exec(line);
    if (m) {
      python++;
      frames.push({ file: fileName(m[1]!), fn: functionName(m[3]!), line: m[2]!, inApp: !LIBRARY_PATH.test(m[1]!) });
      continue;
    }
    m = JAVA_FRAME.exec(line);
    if (m) {
      const cls = m[1]!;
      frames.push({ file: m[3] || cls, fn: functionName(`${cls.split(/[./]/).pop()}.${m[2]}`), line: m[4] ?? '', inApp: !LIBRARY_CLASS.test(cls) });
      continue;
    }
    m = NODE_FRAME.exec(line);
    if (m) frames.push({ file: fileName(m[2]!), fn: functionName(m[1] ?? '<anonymous>'), line: m[3]!, inApp: !LIBRARY_PATH.test(m[2]!) });
  }
  // Python prints the most recent call last; Java and Node first.
  return { frames, newestLast: python > 0 && python >= frames.length / 2 };
}

/** The exception type and message of the first exception line of a traceback. */
function exceptionLine(text: string): { type: string; message: string } | undefined {
  for (const line of text.split('\n')) {
    const m = EXCEPTION_LINE.exec(line);
    if (m) return { type: m[1]!, message: line.slice(m.index + m[0].length).trim() };
  }
  return undefined;
}

/** The parts a fingerprint is made of; undefined for a record that is not an error. */
export function errorSignature(record: ErrorRecord): ErrorSignature | undefined {
  const a = record.attributes;
  const stack = a['exception.stacktrace'] ?? '';
  const body = record.body ?? '';
  const hasException = a['exception.type'] !== undefined || a['exception.message'] !== undefined || stack !== '';
  const category = a['vigil.category'] ?? '';
  // Cheap first: most records are one line without exception or category, and are not errors.
  if (!hasException && category === '' && !body.includes('\n')) return undefined;
  const { frames, newestLast } = parseFrames(stack || body);
  if (!hasException && frames.length === 0 && category === '') return undefined;
  const line = exceptionLine(stack || body);
  const type = a['exception.type'] || line?.type || category || 'error';
  const ordered = newestLast ? [...frames].reverse() : frames;
  const inApp = ordered.filter((f) => f.inApp);
  const chosen = (inApp.length > 0 ? inApp : ordered).slice(0, MAX_FRAMES).map((f) => normaliseText(`${f.file}:${f.fn}`) + `:${f.line}`);
  const messageSource = a['exception.message'] ?? (line && line.message !== '' ? line.message : firstMeaningfulLine(body));
  return { type, frames: chosen, message: normaliseText(messageSource) };
}

function firstMeaningfulLine(body: string): string {
  for (const line of body.split('\n')) if (line.trim() !== '' && !/^Traceback \(most recent call last\)/.test(line)) return line;
  return '';
}

/** A 16-hex-digit fingerprint of an error record; undefined when the record is not an error. */
export function errorFingerprint(record: ErrorRecord): string | undefined {
  if (record.attributes[ERROR_FINGERPRINT_ATTRIBUTE]) return record.attributes[ERROR_FINGERPRINT_ATTRIBUTE];
  const s = errorSignature(record);
  if (!s) return undefined;
  const parts = s.frames.length > 0 ? [s.type, ...s.frames] : [s.type, s.message];
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 16);
}

/** The record's attributes with its fingerprint added, when it is an error (the same object otherwise). */
export function withErrorFingerprint(attributes: Readonly<Record<string, string>>, body: string): Readonly<Record<string, string>> {
  if (attributes[ERROR_FINGERPRINT_ATTRIBUTE] !== undefined) return attributes;
  const fp = errorFingerprint({ body, attributes });
  return fp === undefined ? attributes : { ...attributes, [ERROR_FINGERPRINT_ATTRIBUTE]: fp };
}
