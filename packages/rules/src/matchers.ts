import type { Attributes } from '@vigil/platform';

/**
 * Attribute matchers of a rule's `where`: `x` equals, `!x` not equal, `~re` matches, `!~re`
 * does not match. Regexes are anchored (the whole value must match), as in Prometheus.
 * A missing attribute reads as the empty string, so `!x` and `!~re` match points without it.
 */
export type MatcherOp = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  key: string;
  op: MatcherOp;
  /** The text after the operator prefix. */
  text: string;
  test(value: string): boolean;
}

export class MatcherError extends Error {
  override name = 'MatcherError';
}

/** Parses one matcher; throws MatcherError naming the key when a regex does not compile. */
export function parseMatcher(key: string, spec: string): Matcher {
  if (spec.startsWith('!~')) return regexMatcher(key, '!~', spec.slice(2));
  if (spec.startsWith('~')) return regexMatcher(key, '=~', spec.slice(1));
  if (spec.startsWith('!')) {
    const text = spec.slice(1);
    return { key, op: '!=', text, test: (v) => v !== text };
  }
  return { key, op: '=', text: spec, test: (v) => v === spec };
}

function regexMatcher(key: string, op: '=~' | '!~', source: string): Matcher {
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${source})$`);
  } catch (err) {
    throw new MatcherError(`where "${key}": "${source}" is not a valid regular expression (${(err as Error).message})`);
  }
  return op === '=~' ? { key, op, text: source, test: (v) => re.test(v) } : { key, op, text: source, test: (v) => !re.test(v) };
}

export function parseMatchers(where: Record<string, string>): Matcher[] {
  return Object.entries(where).map(([key, spec]) => parseMatcher(key, spec));
}

/** A point's attribute first, then its resource's (so `host.name` works in `where` and `groupBy`). */
export function attributeValue(key: string, attributes: Attributes, resource: Attributes): string {
  return attributes[key] ?? resource[key] ?? '';
}

export function matchesAll(matchers: Matcher[], attributes: Attributes, resource: Attributes): boolean {
  for (const m of matchers) if (!m.test(attributeValue(m.key, attributes, resource))) return false;
  return true;
}
