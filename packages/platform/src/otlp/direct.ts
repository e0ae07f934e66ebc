import type { Attributes, Exemplar, LogEntry, MetricPoint, ResourceInfo, ScopeInfo } from './flatten.js';
import { Cursor, signedText, unsignedText, type MessagePlan } from './wire.js';

/**
 * Log records and metric points straight from a protobuf export request, without the plain-object
 * tree `readProto` builds first: the tree was about half of `readLogs`' and `readMetrics`' time,
 * and most of the garbage the all-in-one collects (each log record is read three times there: the
 * intake's check, ingest, the rules).
 *
 * It gives exactly what `readLogs` and `readMetrics` give for the requests it reads (property tests
 * hold the two together), and reads only the plain case: anything else (a field in an unexpected
 * wire type, a record or point the flattening would reject, a non-repeated message given twice, a
 * payload that is not a request at all) returns undefined, and the general path reads the whole
 * request again and says what is wrong with it. Values that are not a single string (numbers,
 * arrays, maps, bytes) are read by the general reader and written by the flattening's own
 * `anyValue`; metrics other than gauges and sums without exemplars by the general reader and the
 * flattening's own `metric`; fields the flattening does not use are still read by the general
 * reader, so they fail where it fails. Strings come from `utf8Slice`, which never yields a lone
 * surrogate, so they need no `wellFormed`.
 */

/** What the flattening lends: its plan of the request, and how it writes a non-string value. */
export interface DirectLogs {
  request: MessagePlan;
  /** An AnyValue read by the general reader, as the flattening writes it (throws where it would reject). */
  anyValue(raw: Record<string, unknown>): string;
  /** The latest time stored, as 19 digits. */
  maxTimeText: string;
}

/** What the flattening lends for metrics besides: a metric it reads itself (histograms, summaries, exemplars). */
export interface DirectMetrics extends DirectLogs {
  /** A metric read by the general reader, flattened as `readMetrics` does; undefined when it rejects anything of it. */
  metric(raw: Record<string, unknown>, res: ResourceInfo, sc: ScopeInfo, arrival: string): MetricPoint[] | undefined;
  /** The flattening's empty list of exemplars (one, shared). */
  noExemplars: Exemplar[];
}

/** Leaves the direct reading for the general path. */
class Unusual extends Error {}
const UNUSUAL = new Unusual('not the plain case');

/** The messages of an export request: resources, their scopes, and the items under a scope (log records, metrics). */
interface Plans {
  request: MessagePlan;
  resourceGroup: MessagePlan;
  resource: MessagePlan;
  scopeGroup: MessagePlan;
  scope: MessagePlan;
  item: MessagePlan;
  keyValue: MessagePlan;
  anyValue: MessagePlan;
}

const plansOf = new WeakMap<MessagePlan, Plans>();

/** ResourceLogs and ResourceMetrics, ScopeLogs and ScopeMetrics are laid out alike: field 1 the resource (scope), 2 the list, 3 the schema URL. */
function plans(request: MessagePlan): Plans {
  let p = plansOf.get(request);
  if (p) return p;
  const sub = (plan: MessagePlan, id: number) => {
    const m = plan.fields[id]?.message;
    if (!m) throw new Error(`${plan.name}: field ${id} is not a message`);
    return m;
  };
  const resourceGroup = sub(request, 1);
  const resource = sub(resourceGroup, 1);
  const scopeGroup = sub(resourceGroup, 2);
  const keyValue = sub(resource, 1);
  p = { request, resourceGroup, resource, scopeGroup, scope: sub(scopeGroup, 1), item: sub(scopeGroup, 2), keyValue, anyValue: sub(keyValue, 2) };
  plansOf.set(request, p);
  return p;
}

/** The log records of a protobuf logs request, or undefined when it is not the plain case (read it the general way). */
export function readLogsDirect(payload: Buffer, arrival: string, with_: DirectLogs): LogEntry[] | undefined {
  try {
    return new LogReader(payload, plans(with_.request), with_, arrival).request();
  } catch {
    return undefined;
  }
}

/**
 * The data points of a protobuf metrics request, or undefined when it is not the plain case. Gauges
 * and sums without exemplars are read here; any other metric is read by the general reader and
 * flattened by `readMetrics`' own code (`DirectMetrics.metric`), the rest of the request still read here.
 */
export function readMetricsDirect(payload: Buffer, arrival: string, with_: DirectMetrics): MetricPoint[] | undefined {
  try {
    return new MetricReader(payload, plans(with_.request), with_, arrival).request();
  } catch {
    return undefined;
  }
}

/** Keys up to this many bytes are remembered; a slot holds the last key of its hash (at most 64 KiB of keys). */
const KEY_MAX = 64;
const KEY_SLOTS = 1024;
const KEYS = { bytes: new Array<Uint8Array | undefined>(KEY_SLOTS), text: new Array<string | undefined>(KEY_SLOTS) };

/** Reads the envelope (resources, scopes, their attributes); the items under a scope are the subclass's. */
abstract class DirectReader<T, W extends DirectLogs = DirectLogs> {
  protected readonly c: Cursor;
  protected readonly buf: Buffer;
  /** Fields read only to be checked. */
  private readonly scratch: Record<string, unknown> = {};
  readonly records: T[] = [];

  constructor(
    payload: Buffer,
    protected readonly p: Plans,
    protected readonly with_: W,
    protected readonly arrival: string,
  ) {
    this.c = new Cursor(payload);
    this.buf = payload;
  }

  /** One item (a log record, a metric) under a scope: the cursor on its content, up to `end`. */
  protected abstract item(res: ResourceInfo, sc: ScopeInfo, end: number): void;

  request(): T[] {
    const c = this.c;
    const end = this.buf.length;
    let resources = 0;
    while (c.pos < end) {
      const tag = c.varint32(end);
      const id = tag >>> 3;
      const wire = tag & 7;
      if (id === 1 && wire === 2) {
        const stop = c.delimited(end);
        this.resourceGroup(stop);
        c.pos = stop;
        resources++;
      } else this.other(this.p.request, id, wire, end, 0);
    }
    if (resources === 0) throw UNUSUAL;
    return this.records;
  }

  /** A field this reader does not use, read (and dropped) as the general reader reads it. */
  protected other(plan: MessagePlan, id: number, wire: number, end: number, depth: number): void {
    this.c.field(this.scratch, plan, id, wire, end, depth);
  }

  /**
   * A ResourceLogs/ResourceMetrics or ScopeLogs/ScopeMetrics (the cursor on its content, up to
   * `end`): where its resource or scope is (field 1; -1 when absent), the ranges of its items
   * (field 2, start and end one after the other) and its schema URL (field 3).
   */
  private group(end: number, plan: MessagePlan, depth: number): { head: number; headEnd: number; items: number[]; schemaUrl: string } {
    const c = this.c;
    const g = { head: -1, headEnd: 0, items: [] as number[], schemaUrl: '' };
    while (c.pos < end) {
      const tag = c.varint32(end);
      const id = tag >>> 3;
      const wire = tag & 7;
      if (id === 1 && wire === 2) {
        if (g.head >= 0) throw UNUSUAL;
        g.headEnd = c.delimited(end);
        g.head = c.pos;
        c.pos = g.headEnd;
      } else if (id === 2 && wire === 2) {
        const stop = c.delimited(end);
        g.items.push(c.pos, stop);
        c.pos = stop;
      } else if (id === 3 && wire === 2) {
        g.schemaUrl = this.string(end);
      } else this.other(plan, id, wire, end, depth);
    }
    return g;
  }

  private resourceGroup(end: number): void {
    const c = this.c;
    const g = this.group(end, this.p.resourceGroup, 1);
    const attributes: Attributes = {};
    if (g.head >= 0) {
      c.pos = g.head;
      while (c.pos < g.headEnd) {
        const tag = c.varint32(g.headEnd);
        const id = tag >>> 3;
        const wire = tag & 7;
        if (id === 1 && wire === 2) {
          const stop = c.delimited(g.headEnd);
          this.keyValue(attributes, stop, 3);
          c.pos = stop;
        } else this.other(this.p.resource, id, wire, g.headEnd, 2);
      }
    }
    const res: ResourceInfo = { attributes, schemaUrl: g.schemaUrl, serviceName: attributes['service.name'] ?? '' };
    for (let i = 0; i < g.items.length; i += 2) {
      c.pos = g.items[i]!;
      this.scopeGroup(res, g.items[i + 1]!);
    }
  }

  private scopeGroup(res: ResourceInfo, end: number): void {
    const c = this.c;
    const g = this.group(end, this.p.scopeGroup, 2);
    const scopeEnd = g.headEnd;
    let name = '';
    let version = '';
    let dropped = 0;
    const attributes: Attributes = {};
    if (g.head >= 0) {
      c.pos = g.head;
      while (c.pos < scopeEnd) {
        const tag = c.varint32(scopeEnd);
        const id = tag >>> 3;
        const wire = tag & 7;
        if (id === 1 && wire === 2) name = this.string(scopeEnd);
        else if (id === 2 && wire === 2) version = this.string(scopeEnd);
        else if (id === 3 && wire === 2) {
          const stop = c.delimited(scopeEnd);
          this.keyValue(attributes, stop, 4);
          c.pos = stop;
        } else if (id === 4 && wire === 0) dropped = c.varint32(scopeEnd);
        else this.other(this.p.scope, id, wire, scopeEnd, 3);
      }
    }
    const sc: ScopeInfo = { name, version, attributes, droppedAttributesCount: dropped, schemaUrl: g.schemaUrl };
    for (let i = 0; i < g.items.length; i += 2) {
      c.pos = g.items[i]!;
      this.item(res, sc, g.items[i + 1]!);
    }
  }

  /** A KeyValue (the cursor on its content, up to `end`) into `out`, as the flattening's `attributes` writes it. */
  protected keyValue(out: Attributes, end: number, depth: number): void {
    const c = this.c;
    let key: string | undefined;
    let value = -1;
    let valueEnd = 0;
    while (c.pos < end) {
      const tag = c.varint32(end);
      const id = tag >>> 3;
      const wire = tag & 7;
      if (id === 1 && wire === 2) key = this.key(end);
      else if (id === 2 && wire === 2) {
        if (value >= 0) throw UNUSUAL;
        valueEnd = c.delimited(end);
        value = c.pos;
        c.pos = valueEnd;
      } else this.other(this.p.keyValue, id, wire, end, depth);
    }
    if (key === undefined) {
      // The general reader still reads the value (and fails where it is malformed).
      if (value >= 0) {
        c.pos = value;
        c.message(this.p.anyValue, valueEnd, depth + 1);
      }
      return;
    }
    let text = '';
    if (value >= 0) {
      c.pos = value;
      text = this.value(valueEnd, depth + 1);
    }
    out[key] = text;
  }

  /** An AnyValue (the cursor on its content): a lone string as is, anything else the flattening's way. */
  protected value(end: number, depth: number): string {
    const c = this.c;
    const start = c.pos;
    let text: string | undefined;
    while (c.pos < end) {
      const tag = c.varint32(end);
      if (tag !== 0x0a) {
        // Not string_value (field 1, length-delimited): the general reader, from the start.
        c.pos = start;
        return this.with_.anyValue(c.message(this.p.anyValue, end, depth));
      }
      text = this.string(end);
    }
    return text ?? '';
  }

  protected string(end: number): string {
    const c = this.c;
    const len = c.varint32(end);
    const at = c.need(len, end);
    return c.buf.utf8Slice(at, at + len);
  }

  /** An attribute key: the same few keys come record after record, so each is made once (`KEYS`). */
  protected key(end: number): string {
    const c = this.c;
    const len = c.varint32(end);
    const at = c.need(len, end);
    const buf = this.buf;
    if (len > KEY_MAX) return c.buf.utf8Slice(at, at + len);
    let h = len;
    for (let i = at; i < at + len; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    const slot = (h >>> 0) & (KEY_SLOTS - 1);
    const known = KEYS.bytes[slot];
    if (known !== undefined && known.length === len) {
      let i = 0;
      while (i < len && known[i] === buf[at + i]) i++;
      if (i === len) return KEYS.text[slot]!;
    }
    const text = c.buf.utf8Slice(at, at + len);
    KEYS.bytes[slot] = Uint8Array.prototype.slice.call(buf, at, at + len);
    KEYS.text[slot] = text;
    return text;
  }

  protected hex(end: number): string {
    const c = this.c;
    const len = c.varint32(end);
    const at = c.need(len, end);
    return len === 0 ? '' : this.buf.toString('hex', at, at + len);
  }

  /** A fixed64 time as 19 digits; '' for 0 (absent); past the latest storable time, the general path (it rejects the record). */
  protected time(end: number): string {
    const at = this.c.need(8, end);
    const lo = this.buf.readUInt32LE(at);
    const hi = this.buf.readUInt32LE(at + 4);
    if (lo === 0 && hi === 0) return '';
    const digits = unsignedText(lo, hi);
    const max = this.with_.maxTimeText;
    if (digits.length > max.length || (digits.length === max.length && digits > max)) throw UNUSUAL;
    return digits.padStart(19, '0');
  }
}

class LogReader extends DirectReader<LogEntry> {
  protected item(res: ResourceInfo, sc: ScopeInfo, end: number): void {

    const c = this.c;
    const buf = this.buf;
    let time = '';
    let observed = '';
    let severity = 0;
    let severityText = '';
    let body = -1;
    let bodyEnd = 0;
    const attributes: Attributes = {};
    let flags = 0;
    let traceId = '';
    let spanId = '';
    let eventName = '';
    while (c.pos < end) {
      const tag = c.varint32(end);
      const id = tag >>> 3;
      const wire = tag & 7;
      switch (id) {
        case 1:
          if (wire !== 1) throw UNUSUAL;
          time = this.time(end);
          continue;
        case 11:
          if (wire !== 1) throw UNUSUAL;
          observed = this.time(end);
          continue;
        case 2:
          if (wire !== 0) throw UNUSUAL;
          severity = c.varint32(end) | 0;
          continue;
        case 3:
          if (wire !== 2) throw UNUSUAL;
          severityText = this.string(end);
          continue;
        case 5: {
          if (wire !== 2 || body >= 0) throw UNUSUAL;
          bodyEnd = c.delimited(end);
          body = c.pos;
          c.pos = bodyEnd;
          continue;
        }
        case 6: {
          if (wire !== 2) throw UNUSUAL;
          const stop = c.delimited(end);
          this.keyValue(attributes, stop, 4);
          c.pos = stop;
          continue;
        }
        case 8:
          if (wire !== 5) throw UNUSUAL;
          flags = buf.readUInt32LE(c.need(4, end));
          continue;
        case 9:
          if (wire !== 2) throw UNUSUAL;
          traceId = this.hex(end);
          continue;
        case 10:
          if (wire !== 2) throw UNUSUAL;
          spanId = this.hex(end);
          continue;
        case 12:
          if (wire !== 2) throw UNUSUAL;
          eventName = this.string(end);
          continue;
        default:
          this.other(this.p.item, id, wire, end, 3);
      }
    }
    // As the flattening: a missing (or zero) observed time is the arrival, a missing time the observed one.
    if (observed === '') observed = this.arrival;
    if (time === '') time = observed;
    if (severity < 0 || severity > 24) throw UNUSUAL;
    let text = '';
    if (body >= 0) {
      c.pos = body;
      text = this.value(bodyEnd, 4);
    }
    this.records.push({
      resource: res,
      scope: sc,
      timeUnixNano: time,
      observedTimeUnixNano: observed,
      severityNumber: severity,
      severityText,
      body: text,
      attributes,
      traceId,
      spanId,
      flags,
      eventName,
    });
  }
}

const ZERO_TIME = '0000000000000000000';

class MetricReader extends DirectReader<MetricPoint, DirectMetrics> {
  private readonly gauge: MessagePlan;
  private readonly sum: MessagePlan;
  private readonly point: MessagePlan;

  constructor(payload: Buffer, p: Plans, with_: DirectMetrics, arrival: string) {
    super(payload, p, with_, arrival);
    this.gauge = p.item.fields[5]!.message!;
    this.sum = p.item.fields[7]!.message!;
    this.point = this.gauge.fields[1]!.message!;
  }

  protected item(res: ResourceInfo, sc: ScopeInfo, end: number): void {
    const c = this.c;
    const start = c.pos;
    let name: string | undefined;
    let description = '';
    let unit = '';
    let kinds = 0;
    let kind = 0;
    let data = 0;
    let dataEnd = 0;
    while (c.pos < end) {
      const tag = c.varint32(end);
      const id = tag >>> 3;
      const wire = tag & 7;
      if (wire === 2 && id === 1) name = this.string(end);
      else if (wire === 2 && id === 2) description = this.string(end);
      else if (wire === 2 && id === 3) unit = this.string(end);
      else if (wire === 2 && (id === 5 || id === 7 || id === 9 || id === 10 || id === 11)) {
        kinds++;
        kind = id;
        dataEnd = c.delimited(end);
        data = c.pos;
        c.pos = dataEnd;
      } else this.other(this.p.item, id, wire, end, 3);
    }
    // One gauge or sum, named, its points without exemplars: read here. Anything else the general way.
    if (kinds === 1 && (kind === 5 || kind === 7) && name !== undefined && name !== '') {
      const first = this.records.length;
      c.pos = data;
      if (this.numbers(res, sc, name, description, unit, kind === 7, dataEnd)) return;
      this.records.length = first;
    }
    c.pos = start;
    const points = this.with_.metric(c.message(this.p.item, end, 3), res, sc, this.arrival);
    if (!points) throw UNUSUAL;
    for (const pt of points) this.records.push(pt);
  }

  /** A Gauge's or Sum's points (the cursor on its content); false when one has exemplars (read the metric the general way). */
  private numbers(res: ResourceInfo, sc: ScopeInfo, name: string, description: string, unit: string, isSum: boolean, end: number): boolean {
    const c = this.c;
    const plan = isSum ? this.sum : this.gauge;
    const points: number[] = [];
    let temporality = 0;
    let monotonic = false;
    while (c.pos < end) {
      const tag = c.varint32(end);
      const id = tag >>> 3;
      const wire = tag & 7;
      if (id === 1 && wire === 2) {
        const stop = c.delimited(end);
        points.push(c.pos, stop);
        c.pos = stop;
      } else if (isSum && id === 2 && wire === 0) temporality = c.varint32(end) | 0;
      else if (isSum && id === 3 && wire === 0) monotonic = (c.varint64(end) | c.hi) !== 0;
      else this.other(plan, id, wire, end, 4);
    }
    const t = temporality === 1 || temporality === 2 ? temporality : 0;
    for (let i = 0; i < points.length; i += 2) {
      c.pos = points[i]!;
      const stop = points[i + 1]!;
      let time = '';
      let startTime = '';
      let asDouble: number | undefined;
      let asInt: string | undefined;
      let flags = 0;
      const attributes: Attributes = {};
      while (c.pos < stop) {
        const tag = c.varint32(stop);
        const id = tag >>> 3;
        const wire = tag & 7;
        if (id === 7 && wire === 2) {
          const kvEnd = c.delimited(stop);
          this.keyValue(attributes, kvEnd, 6);
          c.pos = kvEnd;
        } else if (id === 3 && wire === 1) time = this.time(stop);
        else if (id === 2 && wire === 1) startTime = this.time(stop);
        else if (id === 4 && wire === 1) asDouble = this.buf.readDoubleLE(c.need(8, stop));
        else if (id === 6 && wire === 1) {
          const at = c.need(8, stop);
          asInt = signedText(this.buf.readUInt32LE(at), this.buf.readUInt32LE(at + 4));
        } else if (id === 8 && wire === 0) flags = c.varint32(stop);
        else if (id === 5) return false;
        else this.other(this.point, id, wire, stop, 5);
      }
      const base = {
        resource: res,
        scope: sc,
        name,
        description,
        unit,
        attributes,
        startTimeUnixNano: startTime === '' ? ZERO_TIME : startTime,
        timeUnixNano: time === '' ? this.arrival : time,
        flags,
        exemplars: this.with_.noExemplars,
      };
      // As the flattening: a double when there is one, else the integer (0 when neither).
      const value = asDouble !== undefined ? asDouble : asInt !== undefined ? Number(asInt) : 0;
      this.records.push(isSum ? Object.assign(base, { kind: 'sum' as const, value, temporality: t as 0 | 1 | 2, monotonic }) : Object.assign(base, { kind: 'gauge' as const, value }));
    }
    return true;
  }
}
