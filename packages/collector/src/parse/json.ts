import type { AttributeValue, Attributes } from '@opentelemetry/api';
import type { LogRecordInput } from '../plugin.js';
import { severityFromNumber, severityFromSyslog, severityFromWord } from './severity.js';
import { epochToMs, parseTimestamp } from './timestamp.js';

/**
 * Structured (JSON) log lines into log records: the message becomes the body, the level the
 * severity, the time the timestamp, and every other field an attribute, nested objects flattened
 * with dots. Well-known fields of pino, bunyan, Python's logging and the like are renamed to
 * their OpenTelemetry semantic-convention names, so an error from any of them carries
 * `exception.stacktrace`, `code.function`, `code.lineno` (MISSION A). Docker's json-file lines
 * (`log`, `stream`, `time`) and `journalctl -o json` entries (`MESSAGE`, `PRIORITY`,
 * `__REALTIME_TIMESTAMP`) are read the same way, their own line then going through the rules.
 */

const BODY_FIELDS = ['message', 'msg', 'body', 'log', 'MESSAGE'];
const LEVEL_FIELDS = ['level', 'severity', 'levelname', 'lvl', 'log.level'];
const TIME_FIELDS = ['time', 'timestamp', 'ts', '@timestamp', 'asctime', '__REALTIME_TIMESTAMP'];
/** Renamed only when they hold text (`"error": true` is a flag, not a message). */
const TEXT_ONLY = new Set(['error', 'err']);
/** journald's cursor and sequence fields: positions in one journal, not facts about the entry. */
const JOURNAL_POSITION = ['__CURSOR', '__MONOTONIC_TIMESTAMP', '__SEQNUM', '__SEQNUM_ID'];

const RENAMES: Record<string, string> = {
  stack: 'exception.stacktrace',
  stacktrace: 'exception.stacktrace',
  exc_info: 'exception.stacktrace',
  'err.stack': 'exception.stacktrace',
  'error.stack': 'exception.stacktrace',
  'err.type': 'exception.type',
  'error.type': 'exception.type',
  'err.name': 'exception.type',
  'error.name': 'exception.type',
  'err.message': 'exception.message',
  'error.message': 'exception.message',
  funcName: 'code.function',
  function: 'code.function',
  lineno: 'code.lineno',
  line: 'code.lineno',
  pathname: 'code.filepath',
  module: 'code.namespace',
  pid: 'process.pid',
  // zap and logrus write an error as a string under `error`; pino under `err`.
  error: 'exception.message',
  err: 'exception.message',
  // Docker's json-file driver.
  stream: 'log.iostream',
  // journald.
  _PID: 'process.pid',
  _HOSTNAME: 'host.name',
  SYSLOG_IDENTIFIER: 'syslog.appname',
};

/** Parses a line that looks like a JSON object; undefined when it is not one. */
export function parseJsonObject(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Flattens nested objects into dotted keys; arrays are kept as JSON text, nulls dropped. */
export function flattenInto(out: Record<string, AttributeValue>, value: Record<string, unknown>, prefix: string): void {
  for (const key in value) {
    const v = value[key];
    const name = prefix === '' ? key : `${prefix}.${key}`;
    if (v === null || v === undefined) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[name] = v;
    else if (Array.isArray(v)) out[name] = JSON.stringify(v);
    else if (typeof v === 'object') flattenInto(out, v as Record<string, unknown>, name);
    else out[name] = String(v);
  }
}

function take(flat: Record<string, AttributeValue>, names: string[]): AttributeValue | undefined {
  for (const n of names) {
    const v = flat[n];
    if (v !== undefined) {
      delete flat[n];
      return v;
    }
  }
  return undefined;
}

export interface JsonRecord {
  record: LogRecordInput;
  /** Severity the object stated (its level field), else undefined. */
  severity: number | undefined;
  /** Whether the object stated its time (a line in its message does not then override it). */
  timed: boolean;
}

/** One JSON object (a parsed log line, or an event posted to the JSON intake) into a log record. */
export function recordFromJson(obj: Record<string, unknown>, now: number): JsonRecord {
  const flat: Record<string, AttributeValue> = {};
  flattenInto(flat, obj, '');
  const bodyValue = take(flat, BODY_FIELDS);
  const levelValue = take(flat, LEVEL_FIELDS);
  const timeValue = take(flat, TIME_FIELDS);
  const priority = take(flat, ['PRIORITY']);
  for (const k of JOURNAL_POSITION) delete flat[k];
  const eventValue = typeof flat.event === 'string' ? take(flat, ['event']) : take(flat, ['event.name']);

  let severity: number | undefined;
  let severityText: string | undefined;
  if (typeof levelValue === 'number') {
    severity = severityFromNumber(levelValue);
  } else if (typeof levelValue === 'string') {
    severity = severityFromWord(levelValue);
    severityText = levelValue;
  } else if (priority !== undefined) {
    // journald: a syslog severity, 0 (emerg) to 7 (debug), as a decimal string.
    const p = Number(priority);
    severity = Number.isInteger(p) ? severityFromSyslog(p) : undefined;
    if (severity !== undefined) flat['syslog.severity'] = p;
  }

  let stated: number | undefined;
  if (typeof timeValue === 'number') stated = epochToMs(timeValue);
  else if (typeof timeValue === 'string') stated = parseTimestamp(timeValue, now);
  const timestamp = stated ?? now;

  const attributes: Attributes = {};
  for (const key in flat) {
    const renamed = RENAMES[key];
    // A field already named by the convention wins over a renamed alias.
    const v = flat[key]!;
    if (renamed !== undefined && flat[renamed] === undefined && attributes[renamed] === undefined && (typeof v === 'string' || !TEXT_ONLY.has(key))) attributes[renamed] = v;
    else attributes[key] = v;
  }

  let body = bodyValue === undefined ? '' : String(bodyValue);
  // Docker keeps the newline that ended the container's line.
  if (body.endsWith('\n')) body = body.replace(/\r?\n$/, '');
  const record: LogRecordInput = {
    timestamp,
    body,
    attributes,
  };
  if (severityText !== undefined) record.severityText = severityText;
  if (eventValue !== undefined) record.eventName = String(eventValue);
  return { record, severity, timed: stated !== undefined };
}
