import { SeverityNumber, type AttributeValue, type Attributes } from '@opentelemetry/api';
import { MAX_TIME_NANOS } from '@vigil/platform';
import type { LogRecordInput } from '../../plugin.js';

/**
 * The plain JSON events intake (`POST /v1/events`) for applications without OpenTelemetry:
 * one event object or an array of them, each turned into an OTLP log record. Field names are
 * the application's; attributes are named by OpenTelemetry semantic conventions where one exists.
 *
 *     { "level": "error", "type": "app.error", "message": "payment failed",
 *       "error": { "type": "TimeoutError", "message": "...", "stack": "..." },
 *       "module": "billing", "function": "charge", "line": 120, "file": "billing.ts",
 *       "appVersion": "2.3.1", "timestamp": "2025-01-01T10:00:00Z", "attributes": { "order.id": "A1" } }
 */

export const EVENT_FIELDS = ['level', 'type', 'message', 'error', 'module', 'function', 'line', 'file', 'appVersion', 'timestamp', 'attributes'] as const;
const ERROR_FIELDS = ['type', 'message', 'stack'] as const;

/** Levels by the names applications use, to the OpenTelemetry severity number and text. */
const LEVELS: Record<string, [SeverityNumber, string]> = {
  trace: [SeverityNumber.TRACE, 'TRACE'],
  debug: [SeverityNumber.DEBUG, 'DEBUG'],
  info: [SeverityNumber.INFO, 'INFO'],
  information: [SeverityNumber.INFO, 'INFO'],
  notice: [SeverityNumber.INFO2, 'INFO'],
  warn: [SeverityNumber.WARN, 'WARN'],
  warning: [SeverityNumber.WARN, 'WARN'],
  error: [SeverityNumber.ERROR, 'ERROR'],
  critical: [SeverityNumber.FATAL, 'FATAL'],
  fatal: [SeverityNumber.FATAL, 'FATAL'],
};

const EVENT_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;
/** The latest time stored (MAX_TIME_NANOS in @vigil/platform's OTLP decoder). */
const LATEST_MS = Number(MAX_TIME_NANOS / 1_000_000n);

export type ParsedEvents = { ok: true; records: LogRecordInput[] } | { ok: false; problems: string[] };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 40)}...` : s;
}

function isAttributeValue(v: unknown): v is AttributeValue {
  if (typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every((x) => typeof x === 'string') || v.every((x) => typeof x === 'number' && Number.isFinite(x)) || v.every((x) => typeof x === 'boolean');
  return false;
}

/**
 * An integer JavaScript cannot hold exactly (beyond 2^53) would be sent as an OTLP intValue written
 * like 1e+21, which no decoder reads as an int64: such numbers are kept as their text.
 */
function exactAttribute(v: AttributeValue): AttributeValue {
  const unsafe = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && !Number.isSafeInteger(x);
  if (unsafe(v)) return String(v);
  if (Array.isArray(v) && v.some(unsafe)) return v.map((x) => String(x));
  return v;
}

/** Checks and converts a parsed request body; every problem is named by its field. */
export function parseEvents(body: unknown, now = Date.now()): ParsedEvents {
  const many = Array.isArray(body);
  const list: unknown[] = many ? (body as unknown[]) : [body];
  const problems: string[] = [];
  const records: LogRecordInput[] = [];
  if (many && list.length === 0) return { ok: false, problems: ['the array holds no events (send one event object or a non-empty array)'] };
  list.forEach((e, i) => {
    const at = many ? `[${i}]` : '';
    const field = (name: string) => (at ? `${at}.${name}` : name);
    if (!isObject(e)) {
      problems.push(`${at || 'body'}: must be an event object (got ${describe(e)})`);
      return;
    }
    const before = problems.length;
    for (const k of Object.keys(e)) {
      if (!(EVENT_FIELDS as readonly string[]).includes(k)) problems.push(`${field(k)}: unknown field (allowed: ${EVENT_FIELDS.join(', ')}; put your own in "attributes")`);
    }
    const str = (name: string, v: unknown, required = false): string | undefined => {
      if (v === undefined || v === null) {
        if (required) problems.push(`${field(name)}: required (a non-empty string)`);
        return undefined;
      }
      if (typeof v !== 'string' || (required && v.length === 0)) {
        problems.push(`${field(name)}: must be a${required ? ' non-empty' : ''} string (got ${describe(v)})`);
        return undefined;
      }
      return v;
    };
    const message = str('message', e.message, true);
    const levelName = str('level', e.level) ?? 'info';
    const level = LEVELS[levelName.toLowerCase()];
    if (!level) problems.push(`${field('level')}: "${levelName}" is not a level (use one of ${Object.keys(LEVELS).join(', ')})`);
    const type = str('type', e.type);
    if (type !== undefined && !EVENT_NAME.test(type)) problems.push(`${field('type')}: "${type}" is not an event name (letters, digits, _ . : -, at most 128, e.g. app.startup)`);
    let timestamp = now;
    if (e.timestamp !== undefined) {
      const t = typeof e.timestamp === 'number' ? e.timestamp : typeof e.timestamp === 'string' ? Date.parse(e.timestamp) : Number.NaN;
      if (!Number.isFinite(t) || t < 0) problems.push(`${field('timestamp')}: must be an ISO 8601 time or Unix milliseconds (got ${describe(e.timestamp)})`);
      else if (t > LATEST_MS) problems.push(`${field('timestamp')}: ${describe(e.timestamp)} is after 2100-01-01T00:00:00Z, the latest time that can be stored`);
      else timestamp = t;
    }
    const attributes: Attributes = {};
    if (e.attributes !== undefined) {
      if (!isObject(e.attributes)) problems.push(`${field('attributes')}: must be an object of names to strings, numbers or booleans (got ${describe(e.attributes)})`);
      else {
        for (const [k, v] of Object.entries(e.attributes)) {
          if (k.length === 0) problems.push(`${field('attributes')}: an attribute name is empty`);
          else if (!isAttributeValue(v)) problems.push(`${field(`attributes.${k}`)}: must be a string, a finite number, a boolean or an array of one of those (got ${describe(v)})`);
          else attributes[k] = exactAttribute(v);
        }
      }
    }
    const mod = str('module', e.module);
    const fn = str('function', e.function);
    const file = str('file', e.file);
    const version = str('appVersion', e.appVersion);
    if (mod !== undefined) attributes['code.namespace'] = mod;
    if (fn !== undefined) attributes['code.function'] = fn;
    if (file !== undefined) attributes['code.filepath'] = file;
    if (version !== undefined) attributes['service.version'] = version;
    if (e.line !== undefined) {
      if (typeof e.line !== 'number' || !Number.isSafeInteger(e.line) || e.line < 0) problems.push(`${field('line')}: must be a line number, an integer >= 0 (got ${describe(e.line)})`);
      else attributes['code.lineno'] = e.line;
    }
    if (e.error !== undefined) {
      if (!isObject(e.error)) problems.push(`${field('error')}: must be an object with type, message and stack (got ${describe(e.error)})`);
      else {
        const err = e.error;
        for (const k of Object.keys(err)) {
          if (!(ERROR_FIELDS as readonly string[]).includes(k)) problems.push(`${field(`error.${k}`)}: unknown field (allowed: ${ERROR_FIELDS.join(', ')})`);
        }
        const et = str('error.type', err.type);
        const em = str('error.message', err.message);
        const es = str('error.stack', err.stack);
        if (et !== undefined) attributes['exception.type'] = et;
        if (em !== undefined) attributes['exception.message'] = em;
        if (es !== undefined) attributes['exception.stacktrace'] = es;
      }
    }
    if (problems.length > before || message === undefined || !level) return;
    const record: LogRecordInput = { timestamp, severityNumber: level[0], severityText: level[1], body: message, attributes };
    if (type !== undefined) record.eventName = type;
    records.push(record);
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, records };
}
