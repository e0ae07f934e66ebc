/**
 * Routing stage of the notifier, pure logic on the caller's clock (Alertmanager's dispatch/,
 * silence/, inhibit/, timeinterval/): what to notify, to which receiver, when.
 */
export {
  RoutingConfig,
  RouteConfig,
  ChildRouteConfig,
  InhibitRuleConfig,
  SilenceConfig,
  TimeIntervalConfig,
  TimeRangeConfig,
  DEFAULT_INHIBIT_RULES,
} from './config.js';
export { parseMatcher, parseMatchers, matchesAll, alertLabels, MatcherError, MatcherListError, type Matcher, type MatchOp } from './matchers.js';
export {
  compileRoutes,
  defaultRoutes,
  DEFAULT_RECEIVERS,
  type Route,
  type RouteMatch,
  type CompileRoutesOptions,
} from './routes.js';
export { compileTimeIntervals, localTime, isTimeZone, type TimeInterval, type LocalTime } from './timeintervals.js';
export { SilenceSet, silenceId, silenceState, type Silence, type SilenceInput, type SilenceState } from './silences.js';
export { compileInhibitRules, Inhibitions, type InhibitRule, type InhibitionCandidate } from './inhibit.js';
export { Dispatcher, isNewerTransition, type DispatcherOptions, type DispatcherState, type FlushedGroup, type FlushReason } from './dispatcher.js';
export { notificationKey, toNotification } from './notification.js';
export { compileRouting, type CompiledRouting } from './compile.js';
