import type { Attributes } from '@opentelemetry/api';
import type { LogRecordInput } from '../plugin.js';
import { ProtoWriter, varintSize } from './writer.js';

/**
 * A hand-written `otlp_proto` encoder of ExportLogsServiceRequest for the collector's own log
 * records: the SDK's serializer costs most of the collector's CPU when it tails a busy file,
 * because it encodes the resource, the scope and every record's attributes again for each
 * request. Here the resource and each scope are encoded once, a frozen attributes object once
 * (the file plugin shares one per file), and records straight into one reused buffer. The bytes
 * are those of the SDK's ProtobufLogsSerializer for the same records (proven in
 * test/records.test.ts): same fields, same order, same canonical varints.
 *
 * Field numbers (opentelemetry/proto/logs/v1/logs.proto, common/v1/common.proto):
 *   ExportLogsServiceRequest: 1 resource_logs
 *   ResourceLogs: 1 resource, 2 scope_logs, 3 schema_url
 *   Resource: 1 attributes, 2 dropped_attributes_count
 *   ScopeLogs: 1 scope, 2 log_records
 *   InstrumentationScope: 1 name, 2 version
 *   LogRecord: 1 time_unix_nano (fixed64), 2 severity_number, 3 severity_text, 5 body,
 *              6 attributes, 7 dropped_attributes_count, 11 observed_time_unix_nano (fixed64), 12 event_name
 *   KeyValue: 1 key, 2 value; AnyValue: 1 string, 2 bool, 3 int, 4 double, 5 array, 6 kvlist, 7 bytes
 */

const enum Tag {
  ResourceLogs = 0x0a, // 1, LEN
  Resource = 0x0a, // 1, LEN
  ResourceAttribute = 0x0a, // 1, LEN
  ResourceDropped = 0x10, // 2, VARINT
  ScopeLogs = 0x12, // 2, LEN
  SchemaUrl = 0x1a, // 3, LEN
  Scope = 0x0a, // 1, LEN
  ScopeName = 0x0a,
  ScopeVersion = 0x12,
  LogRecord = 0x12, // 2, LEN
  Time = 0x09, // 1, I64
  SeverityNumber = 0x10,
  SeverityText = 0x1a,
  Body = 0x2a,
  Attribute = 0x32, // 6, LEN
  Dropped = 0x38,
  ObservedTime = 0x59, // 11, I64
  EventName = 0x62,
  Key = 0x0a,
  Value = 0x12,
  String = 0x0a,
  Bool = 0x10,
  Int = 0x18,
  Double = 0x21,
  Array = 0x2a,
  KvList = 0x32,
  Bytes = 0x3a,
  ListItem = 0x0a,
}

const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;
const TWO_32 = 4294967296;

/**
 * Epoch milliseconds as the SDK writes them (millisToHrTime, then nanoseconds as fixed64): whole
 * seconds and rounded nanoseconds, summed in 32-bit halves since nanoseconds since 1970 are past
 * 2^53. The seconds are split at 16 bits so that every product stays exact.
 */
export function writeMillisAsNanos(w: ProtoWriter, ms: number): void {
  const seconds = Math.trunc(ms / 1000);
  const nanos = Math.round((ms % 1000) * 1e6);
  const fromLow16 = (seconds & 0xffff) * 1e9; // < 2^46
  const fromHigh = ((seconds / 65536) >>> 0) * 1e9; // times 2^16
  const low = (fromLow16 >>> 0) + (((fromHigh & 0xffff) * 65536) >>> 0) + nanos;
  const high = Math.floor(fromLow16 / TWO_32) + ((fromHigh / 65536) >>> 0) + Math.floor(low / TWO_32);
  w.fixed64(low >>> 0, high >>> 0);
}

/** An attribute value (or body) as AnyValue content, the way the SDK's writeAnyValue does. */
function writeAnyValue(w: ProtoWriter, value: unknown): void {
  switch (typeof value) {
    case 'string':
      w.byte(Tag.String);
      w.string(value);
      return;
    case 'boolean':
      w.byte(Tag.Bool);
      w.byte(value ? 1 : 0);
      return;
    case 'number':
      if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) {
        w.byte(Tag.Int);
        w.varint(value);
      } else {
        w.byte(Tag.Double);
        w.double(value);
      }
      return;
    case 'object':
      if (value === null) return;
      if (value instanceof Uint8Array) {
        w.byte(Tag.Bytes);
        w.bytes(value);
      } else if (Array.isArray(value)) {
        w.byte(Tag.Array);
        const list = w.begin(value.length * 8);
        for (const item of value) {
          w.byte(Tag.ListItem);
          const at = w.begin(16);
          writeAnyValue(w, item);
          w.end(at);
        }
        w.end(list);
      } else {
        w.byte(Tag.KvList);
        const list = w.begin(64);
        writeKeyValues(w, Tag.ListItem, value as Record<string, unknown>);
        w.end(list);
      }
      return;
    default:
      // undefined, functions, symbols: an empty AnyValue, as the SDK writes them.
      return;
  }
}

/** Each own key as a KeyValue in field `tag`. */
function writeKeyValues(w: ProtoWriter, tag: number, attributes: Record<string, unknown>): void {
  for (const key in attributes) {
    if (!Object.prototype.hasOwnProperty.call(attributes, key)) continue;
    const value = attributes[key];
    w.byte(tag);
    const kv = w.begin(key.length + 32);
    w.byte(Tag.Key);
    w.string(key);
    w.byte(Tag.Value);
    const v = w.begin(typeof value === 'string' ? value.length + 2 : 16);
    writeAnyValue(w, value);
    w.end(v);
    w.end(kv);
  }
}

function encodeOnce(fill: (w: ProtoWriter) => void): Buffer {
  const w = new ProtoWriter(256);
  fill(w);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

export interface ResourceInput {
  attributes: Attributes;
  schemaUrl?: string;
}

/**
 * Encodes the log records of one resource (this collector's host) as `otlp_proto`
 * ExportLogsServiceRequests: one ResourceLogs with one ScopeLogs (`vigil.collector.<scope>`).
 *
 * A frozen attributes object is encoded once and its bytes kept (it cannot change); any other is
 * encoded per request, once for consecutive records that share it.
 */
export class LogsEncoder {
  /** The Resource message with its field tag, and the dropped count the SDK always writes. */
  private readonly resource: Buffer;
  private readonly schemaUrl: Buffer | undefined;
  private readonly scopes = new Map<string, Buffer>();
  private readonly frozen = new WeakMap<object, Buffer>();
  private readonly w = new ProtoWriter(256 * 1024);

  constructor(
    resource: ResourceInput,
    private readonly version: string,
  ) {
    this.resource = encodeOnce((w) => {
      w.byte(Tag.Resource);
      const at = w.begin(512);
      writeKeyValues(w, Tag.ResourceAttribute, resource.attributes);
      w.byte(Tag.ResourceDropped);
      w.byte(0);
      w.end(at);
    });
    this.schemaUrl = resource.schemaUrl
      ? encodeOnce((w) => {
          w.byte(Tag.SchemaUrl);
          w.string(resource.schemaUrl!);
        })
      : undefined;
  }

  /** The InstrumentationScope message (with its tag) of a scope name, encoded on first use. */
  private scope(name: string): Buffer {
    let bytes = this.scopes.get(name);
    if (!bytes) {
      bytes = encodeOnce((w) => {
        w.byte(Tag.Scope);
        const at = w.begin(64);
        w.byte(Tag.ScopeName);
        w.string(`vigil.collector.${name}`);
        if (this.version) {
          w.byte(Tag.ScopeVersion);
          w.string(this.version);
        }
        w.end(at);
      });
      this.scopes.set(name, bytes);
    }
    return bytes;
  }

  /** One request holding `records` of plugin instance `scope`; `now` is their observed time (and the time of those without one). */
  encode(scope: string, records: readonly LogRecordInput[], now: number = Date.now()): Buffer {
    if (records.length === 0) return Buffer.alloc(0);
    const scopeBytes = this.scope(scope);
    const resourceTail = this.schemaUrl?.length ?? 0;
    // Headers are written last, right-aligned in front of the records once their sizes are known.
    const headroom = 1 + 5 + this.resource.length + 1 + 5 + scopeBytes.length;
    const w = this.w;
    w.pos = headroom;
    let lastAttrs: object | undefined;
    let lastFrom = 0;
    let lastTo = 0;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const body = r.body as unknown;
      // Typed a string; anything else (from untyped callers) is encoded as the SDK would.
      const bodyLength = typeof body === 'string' ? body.length : 16;
      w.byte(Tag.LogRecord);
      const rec = w.begin(bodyLength + lastTo - lastFrom + 40);
      w.byte(Tag.Time);
      writeMillisAsNanos(w, r.timestamp ?? now);
      const severity = r.severityNumber;
      if (severity !== undefined && severity !== 0) {
        w.byte(Tag.SeverityNumber);
        w.varint(severity);
      }
      if (r.severityText) {
        w.byte(Tag.SeverityText);
        w.string(r.severityText);
      }
      if (body !== undefined) {
        w.byte(Tag.Body);
        const b = w.begin(bodyLength + 2);
        writeAnyValue(w, body);
        w.end(b);
      }
      const attrs = r.attributes;
      let attrsHere = false;
      if (attrs) {
        if (attrs === lastAttrs) w.again(lastFrom, lastTo);
        else {
          attrsHere = true;
          const cached = this.frozen.get(attrs);
          const from = w.pos;
          if (cached) w.raw(cached);
          else {
            writeKeyValues(w, Tag.Attribute, attrs);
            if (Object.isFrozen(attrs)) this.frozen.set(attrs, Buffer.from(w.buf.subarray(from, w.pos)));
          }
          lastAttrs = attrs;
          lastFrom = from;
          lastTo = w.pos;
        }
      }
      w.byte(Tag.Dropped);
      w.byte(0);
      w.byte(Tag.ObservedTime);
      writeMillisAsNanos(w, now);
      if (r.eventName) {
        w.byte(Tag.EventName);
        w.string(r.eventName);
      }
      // A record whose length took more bytes than guessed moved: so did its attributes.
      const moved = w.end(rec);
      if (attrsHere) {
        lastFrom += moved;
        lastTo += moved;
      }
    }
    const end = w.pos;
    const buf = w.buf;
    // ScopeLogs = scope + records; ResourceLogs = resource + ScopeLogs (+ schema url).
    const scopeLogs = scopeBytes.length + (end - headroom);
    const resourceLogs = this.resource.length + 1 + varintSize(scopeLogs) + scopeLogs + resourceTail;
    const start = headroom - scopeBytes.length - varintSize(scopeLogs) - 1 - this.resource.length - varintSize(resourceLogs) - 1;
    const out = Buffer.allocUnsafe(end - start + resourceTail);
    let p = 0;
    out[p++] = Tag.ResourceLogs;
    p = putVarint(out, p, resourceLogs);
    out.set(this.resource, p);
    p += this.resource.length;
    out[p++] = Tag.ScopeLogs;
    p = putVarint(out, p, scopeLogs);
    out.set(scopeBytes, p);
    p += scopeBytes.length;
    out.set(buf.subarray(headroom, end), p);
    if (this.schemaUrl) out.set(this.schemaUrl, p + end - headroom);
    return out;
  }
}

function putVarint(buf: Buffer, pos: number, v: number): number {
  while (v > 127) {
    buf[pos++] = (v & 127) | 128;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}
