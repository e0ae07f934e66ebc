import { ConfigError } from '@vigil/platform';
import { DEFAULT_INHIBIT_RULES, type InhibitRuleConfig } from './config.js';
import { matchesAll, MatcherListError, parseMatchers, type Matcher } from './matchers.js';

/**
 * Inhibition (Alertmanager's inhibit/): while an alert matching a rule's source matchers fires,
 * alerts matching its target matchers with the same values of the `equal` labels are muted.
 * An alert never inhibits itself (an alert matching both sides). Silenced sources still inhibit,
 * as in Alertmanager.
 */
export interface InhibitRule {
  readonly source: readonly Matcher[];
  readonly target: readonly Matcher[];
  readonly equal: readonly string[];
}

/** Compiles rules; `undefined` gives DEFAULT_INHIBIT_RULES, `[]` none. Throws a ConfigError naming the key. */
export function compileInhibitRules(configs: readonly InhibitRuleConfig[] | undefined, at = 'inhibitRules'): InhibitRule[] {
  const problems: string[] = [];
  const rules = (configs ?? DEFAULT_INHIBIT_RULES).map((c, i) => {
    const parse = (texts: string[], key: string) => {
      try {
        return parseMatchers(texts, `${at}[${i}].${key}`);
      } catch (e) {
        if (e instanceof MatcherListError) problems.push(...e.problems);
        else throw e;
        return [];
      }
    };
    return { source: parse(c.sourceMatchers, 'sourceMatchers'), target: parse(c.targetMatchers, 'targetMatchers'), equal: [...c.equal] };
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return rules;
}

export interface InhibitionCandidate {
  fingerprint: string;
  /** Routing labels (`alertLabels`). */
  labels: Readonly<Record<string, string>>;
}

function equalKey(equal: readonly string[], labels: Readonly<Record<string, string>>): string {
  let k = '';
  for (const name of equal) k += `${labels[name] ?? ''}\u0000`;
  return k;
}

/**
 * A snapshot of inhibitions: built from the firing alerts at one moment, then asked about
 * targets. Indexed by the equal-label values so a storm costs O(alerts × rules), not O(alerts²).
 */
export class Inhibitions {
  /** Per rule: equal-label key → fingerprints of firing sources. */
  private readonly sources: Map<string, Set<string>>[];

  constructor(
    private readonly rules: readonly InhibitRule[],
    firing: Iterable<InhibitionCandidate>,
  ) {
    this.sources = rules.map(() => new Map());
    for (const a of firing) {
      rules.forEach((r, i) => {
        if (!matchesAll(r.source, a.labels)) return;
        const key = equalKey(r.equal, a.labels);
        const m = this.sources[i]!;
        let set = m.get(key);
        if (!set) m.set(key, (set = new Set()));
        set.add(a.fingerprint);
      });
    }
  }

  /** The firing alerts that inhibit `target` (their fingerprints), for the alert view; empty when none does. */
  inhibitedBy(target: InhibitionCandidate): string[] {
    const out = new Set<string>();
    for (let i = 0; i < this.rules.length; i++) {
      const r = this.rules[i]!;
      if (!matchesAll(r.target, target.labels)) continue;
      for (const fp of this.sources[i]!.get(equalKey(r.equal, target.labels)) ?? []) if (fp !== target.fingerprint) out.add(fp);
    }
    return [...out].sort();
  }

  isInhibited(target: InhibitionCandidate): boolean {
    for (let i = 0; i < this.rules.length; i++) {
      const r = this.rules[i]!;
      if (!matchesAll(r.target, target.labels)) continue;
      const set = this.sources[i]!.get(equalKey(r.equal, target.labels));
      if (!set) continue;
      if (set.size > 1 || !set.has(target.fingerprint)) return true;
    }
    return false;
  }
}
