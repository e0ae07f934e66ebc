import { prometheusLabelName, type AlertTransition } from '@vigil/platform';

/**
 * Alertmanager label matchers: `name="value"`, `name!="value"`, `name=~"regex"`,
 * `name!~"regex"`. Values may be unquoted when they hold no spaces, commas or quotes
 * (`severity=critical`). Regexes are anchored at both ends, as in Alertmanager, and a label that
 * is absent reads as the empty string (so `team!="x"` holds for an alert without `team`).
 */

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  readonly name: string;
  readonly op: MatchOp;
  readonly value: string;
  matches(labels: Readonly<Record<string, string>>): boolean;
  /** The matcher as written back in canonical form: `name="value"`. */
  toString(): string;
}

/** A matcher that does not parse; the message says which and why, and the caller adds the key. */
export class MatcherError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MatcherError';
  }
}

const MATCHER = /^\s*([A-Za-z_][A-Za-z0-9_.:-]*|"(?:[^"\\]|\\.)+")\s*(=~|!~|!=|=)\s*(.*?)\s*$/s;

function unquote(text: string): string {
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) {
    return JSON.parse(text) as string;
  }
  return text;
}

export function parseMatcher(text: string): Matcher {
  const m = MATCHER.exec(text);
  if (!m) throw new MatcherError(`"${text}" is not a matcher (use name="value", name!="value", name=~"regex" or name!~"regex")`);
  const name = unquote(m[1]!);
  const op = m[2] as MatchOp;
  const raw = m[3]!;
  let value: string;
  if (raw.startsWith('"')) {
    try {
      if (!raw.endsWith('"') || raw.length < 2) throw new Error('unterminated');
      value = JSON.parse(raw) as string;
    } catch {
      throw new MatcherError(`"${text}": the value ${raw} is not a properly quoted string`);
    }
  } else {
    if (/[\s",{}]/.test(raw)) throw new MatcherError(`"${text}": quote a value holding spaces, commas, braces or quotes`);
    value = raw;
  }
  let test: (v: string) => boolean;
  if (op === '=' || op === '!=') {
    test = op === '=' ? (v) => v === value : (v) => v !== value;
  } else {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${value})$`, 's');
    } catch (e) {
      throw new MatcherError(`"${text}": ${JSON.stringify(value)} is not a valid regex (${(e as Error).message})`);
    }
    test = op === '=~' ? (v) => re.test(v) : (v) => !re.test(v);
  }
  const canonical = `${name}${op}${JSON.stringify(value)}`;
  return {
    name,
    op,
    value,
    matches: (labels) => test(labels[name] ?? ''),
    toString: () => canonical,
  };
}

/** Parses a list of matchers; `at` names the config key in the ConfigError-ready messages thrown. */
export function parseMatchers(texts: readonly string[], at: string): Matcher[] {
  const problems: string[] = [];
  const out: Matcher[] = [];
  texts.forEach((t, i) => {
    try {
      out.push(parseMatcher(t));
    } catch (e) {
      problems.push(`${at}[${i}]: ${(e as Error).message}`);
    }
  });
  if (problems.length > 0) throw new MatcherListError(problems);
  return out;
}

/** Problems of a matcher list, one per line, each naming its key. */
export class MatcherListError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'MatcherListError';
  }
}

export function matchesAll(matchers: readonly Matcher[], labels: Readonly<Record<string, string>>): boolean {
  for (const m of matchers) if (!m.matches(labels)) return false;
  return true;
}

/**
 * The labels an alert groups by: its own labels (`alertname`, `severity`, ...), each also under
 * its Prometheus-safe name when that differs (`host.name` is also `host_name`), so a route or a
 * silence written for Alertmanager (`host_name="web-1"`) works as one written for Vigil.
 */
export function groupingLabels(a: Pick<AlertTransition, 'labels'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in a.labels) out[k] = a.labels[k]!;
  for (const k in a.labels) {
    const safe = prometheusLabelName(k);
    if (safe !== undefined && !(safe in out)) out[safe] = a.labels[k]!;
  }
  return out;
}

/**
 * The label set that routes, silences and inhibit rules match on: the grouping labels plus
 * `severity` and `rule` (the transition's fields; `rule` is not a label, matchers may name it as
 * configs written before severity was a label do), which win over labels of the same name.
 */
export function alertLabels(a: Pick<AlertTransition, 'labels' | 'severity' | 'rule'>): Record<string, string> {
  const out = groupingLabels(a);
  out.severity = a.severity;
  out.rule = a.rule;
  return out;
}
