export type { MetricKind, MetricUpdate, ParseContext, ParseResult, Parser } from './types.js';
export { compileRulePack } from './compile.js';
export { loadRulePack, builtinRulePacks, BUILTIN_RULES_DIR } from './load.js';
export { recordFromJson, parseJsonObject, type JsonRecord } from './json.js';
export { parseTimestamp, epochToMs } from './timestamp.js';
export { MetricAggregator, registerParsedMetrics, type MetricSnapshot, type MetricSeries, type MetricAggregatorOptions } from './metrics.js';
export {
  SEVERITY,
  CLASSIFICATIONS,
  classificationOf,
  severityFromClassification,
  severityFromNumber,
  severityFromSyslog,
  severityFromWord,
  severityText,
  type Classification,
} from './severity.js';
export { RulePackSpec, RuleSpec, MetricSpec } from './spec.js';
export { parseCommand } from './command.js';
