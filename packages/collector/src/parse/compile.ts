import type { AttributeValue, Attributes } from '@opentelemetry/api';
import { ConfigError, checkSection } from '@vigil/platform';
import type { LogRecordInput } from '../plugin.js';
import { parseJsonObject, recordFromJson } from './json.js';
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
  continue: boolean;
  metrics: MetricPlan[];
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
    continue: rule.continue,
    metrics,
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

export class RuleParser implements Parser {
  readonly rules: readonly string[];
  // Reused across lines: which rules matched and their groups, to compute metrics after all rules ran.
  private readonly hits: CompiledRule[] = [];
  private readonly hitGroups: (Record<string, string | undefined> | undefined)[] = [];

  constructor(
    readonly source: string,
    private readonly compiled: CompiledRule[],
    private readonly json: boolean,
  ) {
    this.rules = compiled.map((r) => r.name);
  }

  parse(line: string, context?: ParseContext): ParseResult {
    const now = context?.timestamp ?? Date.now();
    const obj = this.json && line.charCodeAt(0) === 123 /* { */ ? parseJsonObject(line) : undefined;
    if (obj) return this.parseObject(obj, context, line);
    const attributes: Attributes = {};
    return this.classify({ timestamp: now, body: line, attributes }, attributes, 0, line, now, context);
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
    return this.classify(record, record.attributes as Attributes, parsed.severity ?? 0, text, now, context);
  }

  /** Runs the rules over `text` and settles severity, category and metrics of `record`. */
  private classify(record: LogRecordInput, attributes: Attributes, stated: number, text: string, now: number, context: ParseContext | undefined): ParseResult {
    let levelSeverity = stated;
    const extra = context?.attributes ?? EMPTY;
    for (const k in extra) if (attributes[k] === undefined) attributes[k] = extra[k];

    let ruleSeverity = 0;
    let category: string | undefined;
    const hits = this.hits;
    const hitGroups = this.hitGroups;
    hits.length = 0;
    hitGroups.length = 0;
    for (const rule of this.compiled) {
      const m = rule.re.exec(text);
      if (m === null) continue;
      const groups = m.groups;
      if (groups !== undefined) {
        for (const g of rule.groups) {
          const v = groups[g.group];
          if (v === undefined) continue;
          switch (g.role) {
            case Role.Attribute:
              attributes[g.attribute] = g.type === 'string' ? v : convert(v, g.type);
              break;
            case Role.Message:
              record.body = v;
              break;
            case Role.Level: {
              const s = severityFromWord(v);
              if (s !== undefined) {
                levelSeverity = s;
                record.severityText = v;
              }
              break;
            }
            case Role.Timestamp: {
              const t = parseTimestamp(v, now);
              if (t !== undefined) record.timestamp = t;
              break;
            }
            case Role.SyslogPri: {
              const pri = Number.parseInt(v, 10);
              if (pri >= 0 && pri < 192) {
                attributes['syslog.facility'] = pri >> 3;
                attributes['syslog.severity'] = pri & 7;
                levelSeverity = severityFromSyslog(pri & 7) ?? levelSeverity;
              }
              break;
            }
          }
        }
      }
      for (const c of rule.constants) {
        let v = c.parts[0]!;
        for (let i = 1; i < c.parts.length; i += 2) v += (groups?.[c.parts[i]!] ?? '') + c.parts[i + 1]!;
        attributes[c.name] = c.type === 'string' ? v : convert(v, c.type);
      }
      if (rule.severity > ruleSeverity) ruleSeverity = rule.severity;
      if (rule.category !== undefined) category = rule.category;
      if (rule.event !== undefined) record.eventName = rule.event;
      hits.push(rule);
      hitGroups.push(groups);
      if (!rule.continue) break;
    }

    // A rule's severity never lowers what the line itself says; a default applies only when neither spoke.
    let severity = levelSeverity;
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
    if (category !== undefined) attributes['vigil.category'] = category;

    const matched: string[] = [];
    const metrics: MetricUpdate[] = [];
    for (let i = 0; i < hits.length; i++) {
      const rule = hits[i]!;
      matched.push(rule.name);
      if (rule.metrics.length === 0) continue;
      const groups = hitGroups[i];
      for (const plan of rule.metrics) {
        const update = metricUpdate(plan, groups, attributes, record.timestamp ?? now);
        if (update) metrics.push(update);
      }
    }
    hits.length = 0;
    hitGroups.length = 0;
    return { record, metrics, matched };
  }
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
