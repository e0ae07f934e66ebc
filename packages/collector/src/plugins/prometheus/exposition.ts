/**
 * The Prometheus text exposition format (version 0.0.4, and the parts of OpenMetrics text that
 * overlap) parsed into metric families. Pure: text in, families out, with line-numbered errors.
 */

export type FamilyType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's own name (`http_requests_total`, `rpc_duration_seconds_bucket`, ...). */
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Milliseconds since the epoch, when the exposition gives one. */
  timestampMs?: number;
}

export interface Family {
  name: string;
  type: FamilyType;
  help: string;
  samples: Sample[];
}

export class ExpositionError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'ExpositionError';
  }
}

const TYPES = new Set<string>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
/** OpenMetrics types read as their nearest 0.0.4 type. */
const OPENMETRICS_TYPES: Record<string, FamilyType> = { unknown: 'untyped', info: 'gauge', stateset: 'gauge', gaugehistogram: 'histogram' };
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** Go's ParseFloat as Prometheus uses it: also `Inf`, `+Inf`, `-Inf`, `NaN` in any case. */
export function parseValue(text: string): number | undefined {
  const t = text.toLowerCase();
  if (t === 'nan') return Number.NaN;
  if (t === '+inf' || t === 'inf') return Number.POSITIVE_INFINITY;
  if (t === '-inf') return Number.NEGATIVE_INFINITY;
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/.test(t) && !/^[+-]?0x[0-9a-f]+$/.test(t)) return undefined;
  const v = t.startsWith('0x') || t.startsWith('+0x') || t.startsWith('-0x') ? Number.parseInt(t, 16) : Number(t);
  return Number.isNaN(v) ? undefined : v;
}

function unescapeHelp(s: string): string {
  return s.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** Reads `{a="x",b="y\"z"}` from `line` at `i` (just after `{`); returns the labels and where they end. */
function readLabels(line: string, start: number, lineNo: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start;
  const skipSpace = () => {
    while (line[i] === ' ' || line[i] === '\t') i++;
  };
  for (;;) {
    skipSpace();
    if (line[i] === '}') return { labels, end: i + 1 };
    const m = LABEL_NAME.exec(line.slice(i));
    if (!m) throw new ExpositionError(lineNo, `expected a label name at column ${i + 1}`);
    const name = m[0];
    i += name.length;
    skipSpace();
    if (line[i] !== '=') throw new ExpositionError(lineNo, `expected "=" after label ${name}`);
    i++;
    skipSpace();
    if (line[i] !== '"') throw new ExpositionError(lineNo, `expected a quoted value for label ${name}`);
    i++;
    let value = '';
    for (;;) {
      const c = line[i];
      if (c === undefined) throw new ExpositionError(lineNo, `unterminated value of label ${name}`);
      if (c === '"') break;
      if (c === '\\') {
        const n = line[i + 1];
        if (n === 'n') value += '\n';
        else if (n === '\\' || n === '"') value += n;
        else throw new ExpositionError(lineNo, `invalid escape "\\${n ?? ''}" in label ${name} (use \\\\, \\" or \\n)`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    i++;
    if (name in labels) throw new ExpositionError(lineNo, `label ${name} appears twice`);
    labels[name] = value;
    skipSpace();
    if (line[i] === ',') {
      i++;
      continue;
    }
    if (line[i] === '}') return { labels, end: i + 1 };
    throw new ExpositionError(lineNo, `expected "," or "}" after label ${name}`);
  }
}

function parseSample(line: string, lineNo: number): Sample {
  const m = NAME.exec(line);
  if (!m) throw new ExpositionError(lineNo, 'expected a metric name');
  const name = m[0];
  let i = name.length;
  while (line[i] === ' ' || line[i] === '\t') i++;
  let labels: Record<string, string> = {};
  if (line[i] === '{') {
    const r = readLabels(line, i + 1, lineNo);
    labels = r.labels;
    i = r.end;
  }
  const rest = line.slice(i).trim().split(/[ \t]+/);
  if (rest.length === 0 || rest[0] === '') throw new ExpositionError(lineNo, `sample ${name} has no value`);
  if (rest.length > 2) throw new ExpositionError(lineNo, `sample ${name}: unexpected text after the timestamp`);
  const value = parseValue(rest[0]!);
  if (value === undefined) throw new ExpositionError(lineNo, `sample ${name}: "${rest[0]}" is not a number`);
  const sample: Sample = { name, labels, value };
  if (rest[1] !== undefined) {
    // 0.0.4 timestamps are integer ms; OpenMetrics ones are (fractional) seconds.
    const ts = /^-?\d+$/.test(rest[1]) ? Number(rest[1]) : undefined;
    if (ts === undefined) throw new ExpositionError(lineNo, `sample ${name}: timestamp "${rest[1]}" is not an integer of milliseconds`);
    sample.timestampMs = ts;
  }
  return sample;
}

/** Suffixes by which a sample belongs to a declared family of another name. */
function familyOf(name: string, declared: Map<string, Family>): Family | undefined {
  const exact = declared.get(name);
  if (exact) return exact;
  for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created']) {
    if (!name.endsWith(suffix)) continue;
    const f = declared.get(name.slice(0, -suffix.length));
    if (!f) continue;
    if (suffix === '_bucket' && f.type === 'histogram') return f;
    if ((suffix === '_sum' || suffix === '_count') && (f.type === 'histogram' || f.type === 'summary')) return f;
    if (suffix === '_total' && f.type === 'counter') return f;
    if (suffix === '_created' && f.type !== 'gauge' && f.type !== 'untyped') return f;
  }
  return undefined;
}

/**
 * Parses a whole exposition. Samples go to the family that a `# TYPE` line declared for their
 * name, or for their name without `_bucket`/`_sum`/`_count` (histograms, summaries), `_total`
 * (counters) or `_created`; a sample of no declared family is an untyped family of its own name.
 * Any malformed line fails the whole parse, as it fails a Prometheus scrape.
 */
export function parseExposition(text: string): Family[] {
  const families: Family[] = [];
  const declared = new Map<string, Family>();
  const undeclared = new Map<string, Family>();
  const declare = (name: string): Family => {
    let f = declared.get(name);
    if (!f) {
      f = { name, type: 'untyped', help: '', samples: [] };
      declared.set(name, f);
      families.push(f);
    }
    return f;
  };
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const lineNo = n + 1;
    const line = lines[n]!.replace(/\r$/, '');
    const trimmed = line.trim();
    if (trimmed === '') continue;
    if (trimmed.startsWith('#')) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(trimmed);
      if (!m) continue; // an ordinary comment, or OpenMetrics' `# EOF` / `# UNIT`
      const [, kind, name, rest = ''] = m;
      if (!NAME.test(name!) || NAME.exec(name!)![0] !== name) throw new ExpositionError(lineNo, `"${name}" is not a metric name`);
      if (kind === 'HELP') {
        const f = declare(name!);
        f.help = unescapeHelp(rest);
      } else {
        const t = rest.trim().toLowerCase();
        const type = TYPES.has(t) ? (t as FamilyType) : OPENMETRICS_TYPES[t];
        if (!type) throw new ExpositionError(lineNo, `"${rest.trim()}" is not a metric type (counter, gauge, histogram, summary or untyped)`);
        const f = declared.get(name!);
        if (f && f.type !== 'untyped' && f.type !== type) throw new ExpositionError(lineNo, `metric ${name} is declared ${f.type} and ${type}`);
        if ((f && f.samples.length > 0) || undeclared.has(name!)) throw new ExpositionError(lineNo, `TYPE of ${name} comes after its samples`);
        declare(name!).type = type;
      }
      continue;
    }
    const sample = parseSample(trimmed, lineNo);
    const family = familyOf(sample.name, declared);
    if (family) {
      family.samples.push(sample);
      continue;
    }
    let u = undeclared.get(sample.name);
    if (!u) {
      u = { name: sample.name, type: 'untyped', help: '', samples: [] };
      undeclared.set(sample.name, u);
      families.push(u);
    }
    u.samples.push(sample);
  }
  return families.filter((f) => f.samples.length > 0);
}
