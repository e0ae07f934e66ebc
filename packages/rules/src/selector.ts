import { ERROR_FINGERPRINT_ATTRIBUTE, errorFingerprint, type Attributes, type LogEntry } from '@vigil/platform';
import { MatcherError, parseMatcher, parseMatchers, type Matcher } from './matchers.js';
import { SEVERITY_LEVELS, type EventSelectorConfig } from './schema.js';

/**
 * What a rule reads: a metric by name and attribute matchers, or log records (events) by an
 * event selector. Each compiles once into a test and a text (`expr`) that transitions carry, so
 * a notification can say what was measured.
 */

/** OpenTelemetry severity numbers where each level starts. */
export const SEVERITY_NUMBER: Record<(typeof SEVERITY_LEVELS)[number], number> = { trace: 1, debug: 5, info: 9, warn: 13, error: 17, fatal: 21 };

const SEVERITY_TEXT: Record<string, number> = {
  TRACE: 1, DEBUG: 5, INFO: 9, NOTICE: 10, WARN: 13, WARNING: 13, ERROR: 17, ERR: 17, CRITICAL: 21, CRIT: 21, FATAL: 21, SEVERE: 17, EMERG: 21, ALERT: 21,
};

/** A record's severity number: as sent, else from its severity text (ERROR, warn, ...). */
export function severityNumberOf(e: Pick<LogEntry, 'severityNumber' | 'severityText'>): number {
  if (e.severityNumber > 0) return e.severityNumber;
  return SEVERITY_TEXT[e.severityText.toUpperCase()] ?? 0;
}

/** One log record as the engine matches and groups it: its attributes, resource and the computed error fingerprint. */
export interface EventView {
  entry: LogEntry;
  /**
   * The record's own attribute; `vigil.error.fingerprint`, when the record carries none, worked
   * out on the first ask (an error's is a parse of its stack trace and a digest: most records are
   * matched and grouped without it).
   */
  attribute(key: string): string | undefined;
}

export function eventView(entry: LogEntry): EventView {
  let fingerprint: string | undefined | null = null;
  return {
    entry,
    attribute(key) {
      const own = entry.attributes[key];
      if (own !== undefined || key !== ERROR_FINGERPRINT_ATTRIBUTE) return own;
      if (fingerprint === null) fingerprint = errorFingerprint(entry);
      return fingerprint;
    },
  };
}

/** `{ k="v", k!~"re" }` of a set of matchers, Prometheus style. */
export function matchersText(matchers: readonly Matcher[]): string {
  if (matchers.length === 0) return '';
  return `{${matchers.map((m) => `${m.key}${m.op}${JSON.stringify(m.text)}`).join(', ')}}`;
}

export interface CompiledEventSelector {
  test(e: EventView): boolean;
  readonly expr: string;
}

/** Compiles an event selector; throws MatcherError (naming the part) when a pattern does not compile. */
export function compileEventSelector(sel: EventSelectorConfig): CompiledEventSelector {
  const parts: Matcher[] = [];
  const checks: ((e: EventView) => boolean)[] = [];
  if (sel.name !== undefined) {
    const m = named('name', () => parseMatcher('event.name', sel.name!));
    parts.push(m);
    checks.push((e) => m.test(e.entry.eventName));
  }
  if (sel.category !== undefined) {
    const m = named('category', () => parseMatcher('vigil.category', sel.category!));
    parts.push(m);
    checks.push((e) => m.test(e.attribute('vigil.category') ?? e.entry.resource.attributes['vigil.category'] ?? ''));
  }
  const where = named('where', () => parseMatchers(sel.where ?? {}));
  parts.push(...where);
  if (where.length > 0) {
    checks.push((e) => {
      for (const m of where) if (!m.test(e.attribute(m.key) ?? e.entry.resource.attributes[m.key] ?? '')) return false;
      return true;
    });
  }
  let text = matchersText(parts).slice(1, -1);
  if (sel.severity !== undefined) {
    const min = SEVERITY_NUMBER[sel.severity];
    checks.push((e) => severityNumberOf(e.entry) >= min);
    text = [text, `severity>=${sel.severity}`].filter(Boolean).join(', ');
  }
  if (sel.body !== undefined) {
    const re = named('body', () => new RegExp(sel.body!));
    checks.push((e) => re.test(e.entry.body));
    text = [text, `body=~${JSON.stringify(sel.body)}`].filter(Boolean).join(', ');
  }
  return {
    expr: `events{${text}}`,
    test(e) {
      for (const c of checks) if (!c(e)) return false;
      return true;
    },
  };
}

function named<T>(part: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof MatcherError) throw new MatcherError(`events.${part}: ${err.message.replace(/^where "[^"]*": /, '')}`);
    if (err instanceof SyntaxError) throw new MatcherError(`events.${part}: not a valid regular expression (${err.message})`);
    throw err;
  }
}

/** A group-by or template value of a record: attribute, then resource attribute. */
export function eventAttribute(e: EventView, key: string): string {
  if (key === 'event.name') return e.entry.eventName;
  return e.attribute(key) ?? e.entry.resource.attributes[key] ?? '';
}
