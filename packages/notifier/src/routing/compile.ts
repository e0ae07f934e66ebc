import { ConfigError } from '@vigil/platform';
import type { RoutingConfig } from './config.js';
import { compileInhibitRules, type InhibitRule } from './inhibit.js';
import { compileRoutes, defaultRoutes, type Route } from './routes.js';
import { SilenceSet } from './silences.js';
import { compileTimeIntervals, type TimeInterval } from './timeintervals.js';

export interface CompiledRouting {
  routes: Route;
  inhibitRules: InhibitRule[];
  timeIntervals: Map<string, TimeInterval>;
  silences: SilenceSet;
}

/**
 * Compiles a whole decoded routing section (`checkSection(RoutingConfig, raw, at)`), gathering
 * every problem into one ConfigError with keys under `at` (e.g. `vigil.yaml: notifier.routing`).
 * No `route` gives `defaultRoutes()` (receivers DEFAULT_RECEIVERS). Receiver names are the
 * caller's to check: walk `routes` and compare `receiver` with the configured ones.
 */
export function compileRouting(config: RoutingConfig, at = 'routing', now = Date.now()): CompiledRouting {
  const problems: string[] = [];
  const timeIntervals = compileTimeIntervals(config.timeIntervals, `${at}.timeIntervals`, problems);
  const collect = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      if (e instanceof ConfigError) problems.push(...e.problems);
      else throw e;
      return undefined;
    }
  };
  const routes = collect(() => compileRoutes(config.route ?? defaultRoutes(), { at: `${at}.route`, timeIntervals: timeIntervals.keys() }));
  const inhibitRules = collect(() => compileInhibitRules(config.inhibitRules, `${at}.inhibitRules`));
  const silences = new SilenceSet();
  config.silences.forEach((s, i) => collect(() => silences.add(s, now, `${at}.silences[${i}]`)));
  if (problems.length > 0 || !routes || !inhibitRules) throw new ConfigError(problems);
  return { routes, inhibitRules, timeIntervals, silences };
}
