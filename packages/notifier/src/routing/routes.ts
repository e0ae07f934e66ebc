import { Value } from '@sinclair/typebox/value';
import { ConfigError } from '@vigil/platform';
import type { AlertSeverity } from '@vigil/platform';
import { RouteConfig, type ChildRouteConfig } from './config.js';
import { MatcherListError, matchesAll, parseMatchers, type Matcher } from './matchers.js';

/**
 * The routing tree (Alertmanager's dispatch/route.go): an alert walks it depth first; at each
 * level the first child that matches takes it, unless that child has `continue: true`, in which
 * case the following siblings are tried too. A route no child takes the alert from is the match
 * itself. Children inherit receiver, groupBy and timers from their parent.
 */
export interface Route {
  /** Stable identity, part of group keys: the parent's id, `/`, the index and the matchers. The root is `{}`. */
  readonly id: string;
  readonly receiver: string;
  /** 'all' for `['...']`. */
  readonly groupBy: readonly string[] | 'all';
  readonly groupWait: number;
  readonly groupInterval: number;
  readonly repeatInterval: number;
  readonly matchers: readonly Matcher[];
  readonly continue: boolean;
  readonly muteTimeIntervals: readonly string[];
  readonly activeTimeIntervals: readonly string[];
  readonly routes: readonly Route[];
  /** The routes that take an alert with these routing labels (see `alertLabels`); never empty at the root. */
  match(labels: Readonly<Record<string, string>>): Route[];
  /** The label values this route groups an alert by. */
  groupLabels(labels: Readonly<Record<string, string>>): Record<string, string>;
}

/** A route that took an alert; the effective settings after inheritance. */
export type RouteMatch = Route;

interface Inherited {
  receiver: string;
  groupBy: readonly string[] | 'all';
  groupWait: number;
  groupInterval: number;
  repeatInterval: number;
}

export interface CompileRoutesOptions {
  /** Names of the configured time intervals; a route naming another one is a config error. */
  timeIntervals?: Iterable<string>;
  /** What precedes keys in messages, e.g. `vigil.yaml: notifier.routing.route`. */
  at?: string;
}

/**
 * Compiles a decoded route tree (timers in ms, as `checkSection(RouteConfig, ...)` gives).
 * Throws a ConfigError listing every problem, each naming its key: matcher syntax, regexes,
 * unknown time intervals, root matchers. Receiver names are not checked here.
 */
export function compileRoutes(config: RouteConfig, opts: CompileRoutesOptions = {}): Route {
  const at = opts.at ?? 'route';
  const intervals = opts.timeIntervals ? new Set(opts.timeIntervals) : undefined;
  const problems: string[] = [];
  if (config.matchers.length > 0) problems.push(`${at}.matchers: the root route takes every alert; put matchers on its child routes`);
  const root = build(config, '{}', at, undefined, intervals, problems, true);
  if (problems.length > 0) throw new ConfigError(problems);
  return root;
}

function build(
  c: RouteConfig | ChildRouteConfig,
  id: string,
  at: string,
  parent: Inherited | undefined,
  intervals: Set<string> | undefined,
  problems: string[],
  isRoot: boolean,
): Route {
  let matchers: Matcher[] = [];
  if (!isRoot) {
    try {
      matchers = parseMatchers(c.matchers, `${at}.matchers`);
    } catch (e) {
      if (e instanceof MatcherListError) problems.push(...e.problems);
      else throw e;
    }
  }
  for (const key of ['muteTimeIntervals', 'activeTimeIntervals'] as const) {
    c[key].forEach((name, i) => {
      if (intervals && !intervals.has(name)) {
        problems.push(`${at}.${key}[${i}]: no time interval is named "${name}" (define it under timeIntervals${intervals.size ? `; defined: ${[...intervals].join(', ')}` : ''})`);
      }
    });
  }
  const timer = (key: 'groupWait' | 'groupInterval' | 'repeatInterval', fallback: number): number => {
    const v = c[key] ?? parent?.[key] ?? fallback;
    if (!(v > 0) && !(key === 'groupWait' && v === 0)) problems.push(`${at}.${key}: must be a positive duration`);
    return v;
  };
  const groupBy = c.groupBy ?? parent?.groupBy ?? [];
  const own: Inherited = {
    receiver: c.receiver ?? parent?.receiver ?? '',
    groupBy: Array.isArray(groupBy) && groupBy.includes('...') ? 'all' : groupBy,
    groupWait: timer('groupWait', 30_000),
    groupInterval: timer('groupInterval', 300_000),
    repeatInterval: timer('repeatInterval', 14_400_000),
  };
  if (Array.isArray(groupBy) && c.groupBy?.includes('rule')) {
    problems.push(`${at}.groupBy: "rule" is not a label; group by alertname, which names the rule`);
  }
  if (Array.isArray(groupBy) && groupBy.includes('...') && groupBy.length > 1) {
    problems.push(`${at}.groupBy: "..." groups by all labels and cannot be combined with other labels`);
  }
  if (own.receiver === '') problems.push(`${at}.receiver: is required at the root route`);
  const children = c.routes.map((child, i) =>
    build(child, `${id}/${i}{${child.matchers.join(',')}}`, `${at}.routes[${i}]`, own, intervals, problems, false),
  );
  const route: Route = {
    id,
    receiver: own.receiver,
    groupBy: own.groupBy,
    groupWait: own.groupWait,
    groupInterval: own.groupInterval,
    repeatInterval: own.repeatInterval,
    matchers,
    continue: c.continue,
    muteTimeIntervals: c.muteTimeIntervals,
    activeTimeIntervals: c.activeTimeIntervals,
    routes: children,
    match(labels) {
      if (!matchesAll(matchers, labels)) return [];
      const all: Route[] = [];
      for (const child of children) {
        const m = child.match(labels);
        for (const r of m) all.push(r);
        if (m.length > 0 && !child.continue) break;
      }
      if (all.length === 0) all.push(route);
      return all;
    },
    groupLabels(labels) {
      const out: Record<string, string> = {};
      if (own.groupBy === 'all') {
        for (const k of Object.keys(labels).sort()) out[k] = labels[k]!;
      } else {
        for (const k of own.groupBy) {
          const v = labels[k];
          if (v !== undefined && v !== '') out[k] = v;
        }
      }
      return out;
    },
  };
  return route;
}

/** Names of the receivers of the default tree. */
export const DEFAULT_RECEIVERS: Readonly<Record<AlertSeverity, string>> = {
  info: 'default-info',
  warning: 'default-warning',
  critical: 'default-critical',
};

/**
 * The route tree used when none is configured: one child route per severity, each to its own
 * receiver (named by `receivers`, DEFAULT_RECEIVERS by default), grouped by alertname, with the
 * default timers. An alert of no known severity lands on the warning receiver.
 */
export function defaultRoutes(receivers: Partial<Record<AlertSeverity, string>> = {}): RouteConfig {
  const name = (s: AlertSeverity) => receivers[s] ?? DEFAULT_RECEIVERS[s];
  const raw = {
    receiver: name('warning'),
    routes: (['critical', 'warning', 'info'] as const).map((s) => ({ matchers: [`severity="${s}"`], receiver: name(s) })),
  };
  return Value.Decode(RouteConfig, Value.Default(RouteConfig, raw)) as RouteConfig;
}
