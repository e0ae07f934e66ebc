export { RuleEngine, alertLabels, type RestoredAlert, type IngestResult } from './engine.js';
export { DEFAULT_RULES, RuleError, compileRules, effectiveRules, ruleProblems, ruleLabelNames, type Rule, type CompiledRule } from './rules.js';
export { parseMatcher, parseMatchers, matchesAll, attributeValue, MatcherError, type Matcher, type MatcherOp } from './matchers.js';
export { WindowStore, windowValue, groupSamples, aggregateSamples, combineValues, type Aggregate, type Combine, type GroupWindow, type Sample } from './window.js';
export { step, severityOf, compare, type AlertState, type Emission, type StepResult, type Op, type Thresholds, type ThresholdSeverity } from './state.js';
export { renderTemplate, renderAnnotations, templateProblems, formatValue, type TemplateContext } from './template.js';
export { createRulesRole, type RulesRole, type RulesRoleOptions } from './role.js';
export { loadFiringAlerts } from './restore.js';
