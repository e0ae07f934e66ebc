import type { AttributeValue, Attributes } from '@opentelemetry/api';
import { ConfigError, checkSection } from '@vigil/platform';
import type { LogRecordInput } from '../plugin.js';
import { extractException } from './exception.js';
import { parseJsonObject, recordFromJson } from './json.js';
import { leadingChars, type CharSet } from './leading.js';
import { classificationOf, severityFromSyslog, severityFromWord, severityText } from './severity.js';
import { RulePackSpec, type MetricSpec, type RuleSpec } from './spec.js';
import { parseTimestamp } from './timestamp.js';
import type { MetricKind, MetricUpdate, ParseContext, ParseResult, Parser } from './types.js';

/**
 * Compiling a rule pack into a `Parser`: every regex compiled once, every named group resolved
 * once to what it sets, so that parsing a line is a few `exec` calls and plain assignments.
 *
 * Named groups with a special meaning: `message` (the record's body), `level` (a level word),
 * `timestamp` (the line's time), `syslog_pri` (an RFC 3164/5424 priority: facility and severity).
 * Every other group sets the attribute of its name, `__` standing for a dot
 * (`http__request__method` sets `http.request.method`).
 */

/** Semantic-convention attributes that are integers, converted when a group captures them. */
const INT_ATTRIBUTES = new Set([
  'http.response.status_code',
  'http.response.body.size',
  'http.request.body.size',
  'code.lineno',
  'code.line.number',
  'code.column',
  'process.pid',
  'process.exit.code',
  'client.port',
  'server.port',
  'source.port',
  'destination.port',
  'network.peer.port',
  'thread.id',
  'syslog.facility',
  'syslog.severity',
  'syslog.version',
]);
const FLOAT_ATTRIBUTES = new Set(['http.server.request.duration', 'vigil.request.duration']);

type ValueType = 'int' | 'float' | 'string' | 'bool';

const enum Role {
  Attribute,
  Message,
  Level,
  Timestamp,
  SyslogPri,
}

interface GroupPlan {
  group: string;
  role: Role;
  attribute: string;
  type: ValueType;
}

interface ConstantAttribute {
  name: string;
  /** Literal parts and group names, alternating: [literal, group, literal, group, ..., literal]. */
  parts: string[];
  type: ValueType;
}

interface MetricPlan {
  name: string;
  kind: MetricKind;
  unit: string;
  description: string;
  constant: number | undefined;
  /** Named group or attribute holding the value. */
  from: string | undefined;
  /** Attribute names keying the series, with the group to read when the attribute is not set. */
  keys: { attribute: string; group: string | undefined }[];
}

export interface CompiledRule {
  name: string;
  source: string;
  re: RegExp;
  groups: GroupPlan[];
  constants: ConstantAttribute[];
  severity: number;
  category: string | undefined;
  event: string | undefined;
  /** Matches continue; the later rules match this rule's message group instead of the line. */
  continue: boolean;
  unwrap: boolean;
  metrics: MetricPlan[];
  /** For a rule anchored at the start: what the first characters of a matching line can be (a cheap test before the regex). */
  lead: CharSet[] | undefined;
}

const GROUP_NAME = /\(\?<([A-Za-z_$][\w$]*)>/g;
const TEMPLATE = /\$\{([A-Za-z_$][\w$]*)\}/g;

export function attributeOfGroup(group: string): string {
  return group.replace(/__/g, '.');
}

function roleOf(group: string): Role {
  switch (group) {
    case 'message':
      return Role.Message;
    case 'level':
      return Role.Level;
    case 'timestamp':
      return Role.Timestamp;
    case 'syslog_pri':
      return Role.SyslogPri;
    default:
      return Role.Attribute;
  }
}

function typeOf(attribute: string, declared: Record<string, ValueType>): ValueType {
  const t = declared[attribute];
  if (t) return t;
  if (INT_ATTRIBUTES.has(attribute)) return 'int';
  if (FLOAT_ATTRIBUTES.has(attribute)) return 'float';
  return 'string';
}

function convert(text: string, type: ValueType): AttributeValue {
  switch (type) {
    case 'int': {
      const n = Number.parseInt(text, 10);
      return Number.isNaN(n) ? text : n;
    }
    case 'float': {
      const n = Number.parseFloat(text);
      return Number.isNaN(n) ? text : n;
    }
    case 'bool':
      return text === 'true' || text === '1' || text === 'yes';
    default:
      return text;
  }
}

function compileRule(rule: RuleSpec, index: number, source: string, problems: string[]): CompiledRule | undefined {
  const at = `${source}: rules[${index}]`;
  let re: RegExp;
  try {
    re = new RegExp(rule.match, rule.flags);
  } catch (err) {
    problems.push(`${at}.match: rule "${rule.name}": ${JSON.stringify(rule.match)} is not a valid regular expression (${(err as Error).message.replace(/^Invalid regular expression: /, '')}; JavaScript syntax, named groups as (?<name>...))`);
    return undefined;
  }
  const declared = rule.types as Record<string, ValueType>;
  const groupNames: string[] = [];
  for (const m of rule.match.matchAll(GROUP_NAME)) groupNames.push(m[1]!);
  const groups: GroupPlan[] = groupNames.map((group) => {
    const attribute = attributeOfGroup(group);
    return { group, role: roleOf(group), attribute, type: typeOf(attribute, declared) };
  });
  const known = new Set(groupNames);
  if (rule.unwrap && !known.has('message')) problems.push(`${at}.unwrap: rule "${rule.name}": unwrap needs a (?<message>...) group in match: the part of the line that the later rules see`);
  const constants: ConstantAttribute[] = [];
  for (const [name, template] of Object.entries(rule.attributes)) {
    const parts = template.split(TEMPLATE);
    for (let i = 1; i < parts.length; i += 2) {
      if (!known.has(parts[i]!)) problems.push(`${at}.attributes.${name}: rule "${rule.name}": \${${parts[i]}} is not a named group of the rule's match (groups: ${groupNames.join(', ') || 'none'})`);
    }
    constants.push({ name, parts, type: typeOf(name, declared) });
  }
  const setsAttribute = (name: string) => constants.some((c) => c.name === name) || groups.some((g) => g.attribute === name);
  const metrics: MetricPlan[] = rule.metrics.map((m: MetricSpec, j: number) => {
    let constant: number | undefined;
    let from: string | undefined;
    if (typeof m.value === 'number') constant = m.value;
    else if (typeof m.value === 'string') {
      if (known.has(m.value)) from = m.value;
      else if (setsAttribute(m.value)) from = m.value;
      else problems.push(`${at}.metrics[${j}].value: rule "${rule.name}": "${m.value}" is neither a named group nor an attribute the rule sets (write a number, or one of: ${groupNames.join(', ') || 'no groups'})`);
    } else if (m.kind !== 'last') constant = 1;
    const keys = m.attributes.map((k) => ({ attribute: known.has(k) ? attributeOfGroup(k) : k, group: known.has(k) ? k : undefined }));
    return { name: m.name, kind: m.kind, unit: m.unit, description: m.description, constant, from, keys };
  });
  return {
    name: rule.name,
    source,
    re,
    groups,
    constants,
    severity: rule.severity === undefined ? 0 : (severityFromWord(rule.severity) ?? 0),
    category: rule.category,
    event: rule.event,
    continue: rule.continue || rule.unwrap,
    unwrap: rule.unwrap,
    metrics,
    lead: leadingChars(rule.match, rule.flags),
  };
}

/** Checks a pack against the schema and compiles its own rules (not its includes). */
export function compileRules(spec: unknown, source: string): { rules: CompiledRule[]; json: boolean; include: string[]; name: string | undefined } {
  let checked: RulePackSpec;
  try {
    checked = checkSection(RulePackSpec, spec, '\u0000');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(err.problems.map((p) => p.replace(/^\u0000\.?/, `${source}: `).replace(`${source}: : `, `${source}: `)));
  }
  const problems: string[] = [];
  const names = new Set<string>();
  const rules: CompiledRule[] = [];
  checked.rules.forEach((rule, i) => {
    if (names.has(rule.name)) problems.push(`${source}: rules[${i}].name: "${rule.name}" is used twice (give each rule its own name)`);
    names.add(rule.name);
    const compiled = compileRule(rule, i, source, problems);
    if (compiled) rules.push(compiled);
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return { rules, json: checked.json, include: checked.include, name: checked.name };
}

/**
 * Compiles a rule pack (the parsed YAML of a pack file) into a parser. A bad pack is a
 * ConfigError naming `source`, the key and what is allowed. `include` needs files, so packs that
 * include others are loaded with `loadRulePack`.
 */
export function compileRulePack(spec: unknown, source: string): Parser {
  const pack = compileRules(spec, source);
  if (pack.include.length > 0) throw new ConfigError([`${source}: include: a pack with includes must be loaded from a file (loadRulePack), not compiled alone`]);
  return new RuleParser(source, pack.rules, pack.json);
}

const EMPTY: Attributes = Object.freeze({}) as Attributes;

/** No rule set a category. */
const NONE = Number.MAX_SAFE_INTEGER;

/** Lines of a multiline record read for its category beyond its first: message lines and exception lines. */
const MAX_EXTRA_LINES = 16;

/** What one run of the rules over one text found. Reused from line to line: a single line allocates none. */
class Pass {
  /** Severity the text states (a level group, a syslog priority, a JSON level). */
  level = 0;
  /** Highest severity of the rules that matched. */
  rule = 0;
  category: string | undefined;
  /** Index of the rule that set `category`; an earlier rule is the more specific. */
  categoryRule = NONE;
  /** Whether a message group set the body. */
  message = false;
  /** The record's time is known (a JSON line's own): timestamp groups do not change it. */
  keepTime = false;
  readonly hits: CompiledRule[] = [];
  readonly groups: (Record<string, string | undefined> | undefined)[] = [];

  reset(level: number): void {
    this.level = level;
    this.rule = 0;
    this.category = undefined;
    this.categoryRule = NONE;
    this.message = false;
    this.keepTime = false;
    this.hits.length = 0;
    this.groups.length = 0;
  }
}

export class RuleParser implements Parser {
  readonly rules: readonly string[];
  private readonly head = new Pass();
  // For the other lines of a multiline record: the pass being run and the best so far.
  private extra = new Pass();
  private best = new Pass();
  /**
   * Runs of rules that only classify (no named groups) with the same flags, each as one regex
   * matching where any of them does: a line that none of them matches (most lines: they are not
   * errors) is passed over with one test instead of one per rule. By the run's first rule.
   */
  private readonly gates: ({ re: RegExp; end: number } | undefined)[];
  /** Rules that can change a line's category or severity, or stop the rules (the only ones the other lines of a multiline record need). */
  private readonly classifies: boolean[];

  constructor(
    readonly source: string,
    private readonly compiled: CompiledRule[],
    private readonly json: boolean,
  ) {
    this.rules = compiled.map((r) => r.name);
    this.gates = gatesOf(compiled);
    this.classifies = compiled.map((r) => r.category !== undefined || r.severity > 0 || r.unwrap || !r.continue || r.metrics.length > 0);
  }

  parse(line: string, context?: ParseContext): ParseResult {
    const now = context?.timestamp ?? Date.now();
    const obj = this.json && line.charCodeAt(0) === 123 /* { */ ? parseJsonObject(line) : undefined;
    if (obj) return this.parseObject(obj, context, line);
    const attributes: Attributes = {};
    return this.classify({ timestamp: now, body: line, attributes }, attributes, 0, false, line, now, context, undefined);
  }

  parseObject(obj: Record<string, unknown>, context?: ParseContext, line?: string): ParseResult {
    const now = context?.timestamp ?? Date.now();
    const parsed = recordFromJson(obj, now);
    const record = parsed.record;
    let text = record.body;
    if (text === '') {
      record.body = line ?? JSON.stringify(obj);
      text = record.body;
    }
    const attributes = record.attributes as Attributes;
    return this.classify(record, attributes, parsed.severity ?? 0, parsed.timed, text, now, context, exceptionLines(attributes));
  }

  /**
   * Runs the rules over `text` and settles severity, category and metrics of `record`. A text of
   * several lines (a multiline record) is read like one line: the rules run over its first line;
   * a trace after it becomes `exception.*`; its other lines (message continuations, each
   * exception of the chain) are run through the rules too, for a more specific category.
   * `extra`: such lines from elsewhere (a JSON record's error fields).
   */
  private classify(record: LogRecordInput, attributes: Attributes, stated: number, timed: boolean, text: string, now: number, context: ParseContext | undefined, extra: string[] | undefined): ParseResult {
    const given = context?.attributes ?? EMPTY;
    for (const k in given) if (attributes[k] === undefined) attributes[k] = given[k];
    const head = this.head;
    head.reset(stated);
    head.keepTime = timed;
    const nl = text.indexOf('\n');
    if (nl < 0) {
      this.run(text, head, record, attributes, now);
      if (record.body === '') record.body = text; // a format whose message is on the next lines (.NET's console)
    } else extra = this.multiline(text, nl, record, attributes, now, extra);

    let decided = head;
    if (extra !== undefined && extra.length > 0) {
      this.best.reset(0);
      for (const line of extra) {
        const pass = this.extra;
        pass.reset(0);
        this.run(line, pass, undefined, attributes, now);
        if (pass.categoryRule < this.best.categoryRule) {
          this.extra = this.best;
          this.best = pass;
        }
      }
      if (this.best.categoryRule < head.categoryRule) decided = this.best;
    }
    return this.settle(record, attributes, head, decided, now, context);
  }

  /**
   * A multiline record: the rules over its first line, its trace into `exception.*`, its body the
   * first line's message with any message lines before the trace. Returns the lines to classify.
   */
  private multiline(text: string, nl: number, record: LogRecordInput, attributes: Attributes, now: number, extra: string[] | undefined): string[] {
    const first = text.slice(0, nl);
    record.body = first;
    this.run(first, this.head, record, attributes, now);
    const message = this.head.message ? record.body : first;
    const lines = text.split('\n');
    const found = extractException(lines);
    const more: string[] = extra ? [...extra] : [];
    if (found === undefined) {
      const rest = dedent(lines, 1, lines.length);
      record.body = message === '' ? rest.join('\n') : `${message}\n${rest.join('\n')}`;
      for (let i = 1; i < lines.length && more.length < MAX_EXTRA_LINES; i++) {
        const t = lines[i]!.trim();
        if (t !== '') more.push(t);
      }
      return more;
    }
    if (found.start === 0) {
      record.body = found.type === undefined ? first : found.message === undefined ? found.type : `${found.type}: ${found.message}`;
      attributes['exception.stacktrace'] = text;
    } else {
      const parts = dedent(lines, 1, found.start);
      for (const t of parts) if (more.length < MAX_EXTRA_LINES) more.push(t.trim());
      if (message !== '') parts.unshift(message);
      record.body = parts.length > 0 ? parts.join('\n') : first;
      attributes['exception.stacktrace'] = lines.slice(found.start).join('\n');
    }
    if (found.type !== undefined) {
      attributes['exception.type'] = found.type;
      if (found.message !== undefined) attributes['exception.message'] = found.message;
      else delete attributes['exception.message'];
    }
    for (const c of found.causes) if (more.length < MAX_EXTRA_LINES) more.push(c);
    if (found.firstFrame !== undefined && more.length < MAX_EXTRA_LINES) more.push(found.firstFrame);
    return more;
  }

  /**
   * The rules over one text, in order, until one that does not continue. With a record, named
   * groups set its attributes, body, level and time; without one (another line of a multiline
   * record) only severity, category and the metrics' groups are kept.
   */
  private run(text: string, pass: Pass, record: LogRecordInput | undefined, attributes: Attributes, now: number): void {
    const rules = this.compiled;
    const gates = this.gates;
    for (let i = 0; i < rules.length; i++) {
      const gate = gates[i];
      if (gate !== undefined && !gate.re.test(text)) {
        i = gate.end - 1;
        continue;
      }
      const rule = rules[i]!;
      if (record === undefined && !this.classifies[i]) continue;
      if (rule.lead !== undefined && !mayStart(rule.lead, text)) continue;
      const m = rule.re.exec(text);
      if (m === null) continue;
      const groups = m.groups;
      if (record !== undefined) {
        if (groups !== undefined) this.apply(rule, groups, pass, record, attributes, now);
        for (const c of rule.constants) {
          let v = c.parts[0]!;
          for (let k = 1; k < c.parts.length; k += 2) v += (groups?.[c.parts[k]!] ?? '') + c.parts[k + 1]!;
          attributes[c.name] = c.type === 'string' ? v : convert(v, c.type);
        }
        if (rule.event !== undefined) record.eventName = rule.event;
      }
      if (rule.severity > pass.rule) pass.rule = rule.severity;
      if (rule.category !== undefined) {
        pass.category = rule.category;
        pass.categoryRule = i;
      }
      pass.hits.push(rule);
      pass.groups.push(groups);
      if (rule.unwrap && groups?.message !== undefined) text = groups.message;
      if (!rule.continue) break;
    }
  }

  private apply(rule: CompiledRule, groups: Record<string, string | undefined>, pass: Pass, record: LogRecordInput, attributes: Attributes, now: number): void {
    for (const g of rule.groups) {
      const v = groups[g.group];
      if (v === undefined) continue;
      switch (g.role) {
        case Role.Attribute:
          attributes[g.attribute] = g.type === 'string' ? v : convert(v, g.type);
          break;
        case Role.Message:
          record.body = v;
          pass.message = true;
          break;
        case Role.Level: {
          const s = severityFromWord(v);
          if (s !== undefined) {
            pass.level = s;
            record.severityText = v;
          }
          break;
        }
        case Role.Timestamp: {
          if (pass.keepTime) break;
          const t = parseTimestamp(v, now);
          if (t !== undefined) record.timestamp = t;
          break;
        }
        case Role.SyslogPri: {
          const pri = Number.parseInt(v, 10);
          if (pri >= 0 && pri < 192) {
            attributes['syslog.facility'] = pri >> 3;
            attributes['syslog.severity'] = pri & 7;
            pass.level = severityFromSyslog(pri & 7) ?? pass.level;
          }
          break;
        }
      }
    }
  }

  /** Severity, category and metrics of a record from its first line's pass and the pass that decided its category. */
  private settle(record: LogRecordInput, attributes: Attributes, head: Pass, decided: Pass, now: number, context: ParseContext | undefined): ParseResult {
    // A rule's severity never lowers what the line itself says; a default applies only when neither spoke.
    let severity = head.level;
    const ruleSeverity = decided === head ? head.rule : Math.max(head.rule, decided.rule);
    if (ruleSeverity > severity) {
      severity = ruleSeverity;
      record.severityText = severityText(ruleSeverity);
    }
    if (severity === 0 && context?.defaultSeverity) {
      severity = context.defaultSeverity;
      record.severityText = severityText(severity);
    }
    if (severity > 0) {
      record.severityNumber = severity;
      if (record.severityText === undefined) record.severityText = severityText(severity);
      attributes['vigil.severity'] = classificationOf(severity);
    }
    if (decided.category !== undefined) attributes['vigil.category'] = decided.category;

    const matched: string[] = [];
    const metrics: MetricUpdate[] = [];
    const time = record.timestamp ?? now;
    collectMetrics(head, attributes, time, matched, metrics, undefined);
    // The deciding line counts what the first did not (one error per record, with the record's category).
    if (decided !== head) collectMetrics(decided, attributes, time, matched, metrics, new Set(metrics.map((m) => m.name)));
    return { record, metrics, matched };
  }
}

/** Whether `text` can start a match, by the positions from leadingChars (called for most rules of most lines: kept here, next to its caller). */
export function mayStart(positions: readonly CharSet[], text: string): boolean {
  for (let j = 0; j < positions.length; j++) {
    const c = text.charCodeAt(j);
    const p = positions[j]!;
    if (c < 128 ? p.ascii[c] === 0 : c !== c || !p.other) return false;
  }
  return true;
}

const MIN_GATE_RULES = 3;
// A backreference would point elsewhere once the sources are joined.
const BACKREFERENCE = /\\(?:[1-9]|k<)/;

export function gatesOf(rules: readonly CompiledRule[]): ({ re: RegExp; end: number } | undefined)[] {
  const gates: ({ re: RegExp; end: number } | undefined)[] = new Array(rules.length).fill(undefined);
  const joinable = (r: CompiledRule) => r.groups.length === 0 && !BACKREFERENCE.test(r.re.source);
  for (let i = 0; i < rules.length; ) {
    let end = i;
    while (end < rules.length && joinable(rules[end]!) && rules[end]!.re.flags === rules[i]!.re.flags) end++;
    if (end - i >= MIN_GATE_RULES) {
      gates[i] = { re: new RegExp(rules.slice(i, end).map((r) => `(?:${r.re.source})`).join('|'), rules[i]!.re.flags), end };
      i = end;
    } else i = Math.max(end, i + 1);
  }
  return gates;
}

function collectMetrics(pass: Pass, attributes: Attributes, timestamp: number, matched: string[], metrics: MetricUpdate[], skip: Set<string> | undefined): void {
  for (let i = 0; i < pass.hits.length; i++) {
    const rule = pass.hits[i]!;
    matched.push(rule.name);
    for (const plan of rule.metrics) {
      if (skip?.has(plan.name)) continue;
      const update = metricUpdate(plan, pass.groups[i], attributes, timestamp);
      if (update) metrics.push(update);
    }
  }
}

/** Lines `from` to `to` of a record without their common indentation, blank lines at either end dropped. */
function dedent(lines: readonly string[], from: number, to: number): string[] {
  let a = from;
  let b = to;
  while (a < b && lines[a]!.trim() === '') a++;
  while (b > a && lines[b - 1]!.trim() === '') b--;
  let indent = Number.MAX_SAFE_INTEGER;
  for (let i = a; i < b; i++) {
    const l = lines[i]!;
    if (l.trim() === '') continue;
    const n = l.length - l.trimStart().length;
    if (n < indent) indent = n;
  }
  const out: string[] = [];
  for (let i = a; i < b; i++) out.push(lines[i]!.slice(Math.min(indent, lines[i]!.length)).trimEnd());
  return out;
}

/** A JSON record's exception fields as lines to classify: each exception of its stack trace, or its type and message. */
function exceptionLines(attributes: Attributes): string[] | undefined {
  const stack = attributes['exception.stacktrace'];
  const type = attributes['exception.type'];
  const message = attributes['exception.message'];
  const lines: string[] = [];
  let frame: string | undefined;
  if (typeof stack === 'string' && stack !== '') {
    const found = extractException(stack.split('\n'));
    if (found !== undefined) {
      if (type === undefined && found.type !== undefined) attributes['exception.type'] = found.type;
      if (message === undefined && found.message !== undefined) attributes['exception.message'] = found.message;
      lines.push(...found.causes.slice(0, MAX_EXTRA_LINES));
      frame = found.firstFrame;
    }
  }
  if (lines.length === 0 && typeof message === 'string' && message !== '') lines.push(typeof type === 'string' ? `${type}: ${message}` : message);
  if (frame !== undefined) lines.push(frame);
  return lines.length > 0 ? lines : undefined;
}

function metricUpdate(plan: MetricPlan, groups: Record<string, string | undefined> | undefined, attributes: Attributes, timestamp: number): MetricUpdate | undefined {
  let value: number;
  if (plan.constant !== undefined) value = plan.constant;
  else if (plan.from !== undefined) {
    const raw = groups?.[plan.from] ?? attributes[plan.from];
    value = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : Number.NaN;
    // A group that did not take part in the match (an optional size "-") updates nothing.
    if (!Number.isFinite(value)) return undefined;
  } else value = Math.floor(timestamp / 1000);
  const series: Attributes = {};
  for (const key of plan.keys) {
    const v = attributes[key.attribute] ?? (key.group !== undefined ? groups?.[key.group] : undefined);
    if (v !== undefined) series[key.attribute] = v;
  }
  return { name: plan.name, kind: plan.kind, value, unit: plan.unit, description: plan.description, attributes: series, timestamp };
}
