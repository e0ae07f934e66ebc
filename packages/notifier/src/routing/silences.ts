import { createHash } from 'node:crypto';
import { ConfigError } from '@vigil/platform';
import type { SilenceConfig } from './config.js';
import { matchesAll, MatcherListError, parseMatchers, type Matcher } from './matchers.js';

/**
 * Silences (Alertmanager's silence/): a set of matchers and a time range; an alert whose routing
 * labels match all of them between startsAt (inclusive) and endsAt (exclusive) is not notified.
 * Pure: the caller persists `state()` and passes the clock.
 */

export type SilenceState = 'pending' | 'active' | 'expired';

export interface Silence {
  id: string;
  matchers: string[];
  startsAt: string;
  endsAt: string;
  comment: string;
  createdBy: string;
  /** RFC 3339 of the last add or expire. */
  updatedAt: string;
}

export interface SilenceInput {
  id?: string;
  matchers: string[];
  startsAt: string;
  endsAt: string;
  comment?: string;
  createdBy?: string;
}

interface Compiled {
  silence: Silence;
  matchers: Matcher[];
  start: number;
  end: number;
}

/** A UUID-shaped id derived from what the silence says, so the same file entry keeps its id across restarts. */
export function silenceId(s: Pick<SilenceInput, 'matchers' | 'startsAt' | 'endsAt' | 'comment' | 'createdBy'>): string {
  const h = createHash('sha256')
    .update(JSON.stringify([[...s.matchers].sort(), s.startsAt, s.endsAt, s.comment ?? '', s.createdBy ?? '']))
    .digest('hex');
  // Version 8 (custom) UUID layout.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function silenceState(s: Pick<Silence, 'startsAt' | 'endsAt'>, now: number): SilenceState {
  if (now < Date.parse(s.startsAt)) return 'pending';
  return now < Date.parse(s.endsAt) ? 'active' : 'expired';
}

export class SilenceSet {
  private readonly byId = new Map<string, Compiled>();

  constructor(silences: readonly (Silence | SilenceInput | SilenceConfig)[] = [], now = 0) {
    for (const s of silences) this.add(s, now);
  }

  /**
   * Adds a silence, or replaces the one with the same id. Throws a ConfigError naming the field
   * when a matcher or a time does not parse or the range is empty. `at` prefixes the keys.
   */
  add(input: SilenceInput | Silence, now: number, at = 'silence'): Silence {
    const problems: string[] = [];
    let matchers: Matcher[] = [];
    if (input.matchers.length === 0) problems.push(`${at}.matchers: at least one matcher is required (a silence of everything is almost always a mistake)`);
    try {
      matchers = parseMatchers(input.matchers, `${at}.matchers`);
    } catch (e) {
      if (e instanceof MatcherListError) problems.push(...e.problems);
      else throw e;
    }
    const start = Date.parse(input.startsAt);
    const end = Date.parse(input.endsAt);
    if (Number.isNaN(start)) problems.push(`${at}.startsAt: "${input.startsAt}" is not an RFC 3339 time`);
    if (Number.isNaN(end)) problems.push(`${at}.endsAt: "${input.endsAt}" is not an RFC 3339 time`);
    if (!Number.isNaN(start) && !Number.isNaN(end) && end <= start) problems.push(`${at}.endsAt: ${input.endsAt} is not after startsAt ${input.startsAt}`);
    if (problems.length > 0) throw new ConfigError(problems);
    const silence: Silence = {
      id: input.id ?? silenceId(input),
      matchers: [...input.matchers],
      startsAt: new Date(start).toISOString(),
      endsAt: new Date(end).toISOString(),
      comment: input.comment ?? '',
      createdBy: input.createdBy ?? '',
      updatedAt: 'updatedAt' in input && input.updatedAt ? input.updatedAt : new Date(now).toISOString(),
    };
    this.byId.set(silence.id, { silence, matchers, start, end });
    return silence;
  }

  /** Ends a silence at `now` (a pending one ends before it starts). Returns false when there is none or it already ended. */
  expire(id: string, now: number): boolean {
    const c = this.byId.get(id);
    if (!c || c.end <= now) return false;
    c.end = now;
    c.start = Math.min(c.start, now);
    c.silence.startsAt = new Date(c.start).toISOString();
    c.silence.endsAt = new Date(now).toISOString();
    c.silence.updatedAt = new Date(now).toISOString();
    return true;
  }

  get(id: string, now: number): (Silence & { state: SilenceState }) | undefined {
    const c = this.byId.get(id);
    return c && { ...c.silence, state: stateOf(c, now) };
  }

  /** All silences with their state at `now`, optionally only those in `states`; sorted by startsAt then id. */
  list(now: number, states?: readonly SilenceState[]): (Silence & { state: SilenceState })[] {
    const out: (Silence & { state: SilenceState })[] = [];
    for (const c of this.byId.values()) {
      const state = stateOf(c, now);
      if (!states || states.includes(state)) out.push({ ...c.silence, state });
    }
    return out.sort((a, b) => a.startsAt.localeCompare(b.startsAt) || a.id.localeCompare(b.id));
  }

  /** Ids of the silences muting these routing labels at `now`. */
  silencedBy(labels: Readonly<Record<string, string>>, now: number): string[] {
    const out: string[] = [];
    for (const c of this.byId.values()) if (now >= c.start && now < c.end && matchesAll(c.matchers, labels)) out.push(c.silence.id);
    return out;
  }

  isSilenced(labels: Readonly<Record<string, string>>, now: number): boolean {
    for (const c of this.byId.values()) if (now >= c.start && now < c.end && matchesAll(c.matchers, labels)) return true;
    return false;
  }

  /** Forgets silences that ended more than `retention` ms before `now`; returns how many. */
  gc(now: number, retention: number): number {
    let n = 0;
    for (const [id, c] of this.byId) {
      if (c.end + retention <= now) {
        this.byId.delete(id);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.byId.size;
  }

  /** Plain JSON to persist; `SilenceSet.restore` rebuilds the set. */
  state(): Silence[] {
    return [...this.byId.values()].map((c) => ({ ...c.silence }));
  }

  static restore(state: readonly Silence[]): SilenceSet {
    const set = new SilenceSet();
    for (const s of state) set.add(s, Date.parse(s.updatedAt) || 0);
    return set;
  }
}

function stateOf(c: Compiled, now: number): SilenceState {
  if (now < c.start) return 'pending';
  return now < c.end ? 'active' : 'expired';
}
