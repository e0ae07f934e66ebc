export { queryApiRoutes, registerQueryApi, API_PREFIX, type QueryApiOptions } from './plugin.js';
export {
  ParameterError,
  parseTime,
  parsePositiveDuration,
  sinceStart,
  checkLimit,
  MAX_LIMIT,
  planRange,
  niceStepAtLeast,
  pointCount,
  severityName,
  AGGREGATIONS,
  SEVERITY_FLOOR,
  MAX_POINTS,
  MIN_STEP_MS,
  MAX_STEP_MS,
  TARGET_POINTS,
  DEFAULT_RANGE_MS,
  type Aggregation,
  type SeverityName,
  type Range,
  type RangeQuery,
} from './parameters.js';
export { ErrorBody, StorageUnavailableError } from './errors.js';
export { HostsReply, Host } from './routes/hosts.js';
export { SeriesReply, Series, Point, seriesFromRows } from './routes/series.js';
export { AlertsReply, AlertItem } from './routes/alerts.js';
export { EventsReply, EventItem } from './routes/events.js';
