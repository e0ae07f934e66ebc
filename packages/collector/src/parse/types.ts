import type { Attributes } from '@opentelemetry/api';
import type { LogRecordInput } from '../plugin.js';

/**
 * How a metric declared by a rule folds its updates: `sum` adds (a counter: bytes, errors),
 * `gauge` keeps the latest value, `last` keeps the time of the latest match in seconds since
 * the epoch unless a value is given (an entity's last activity).
 */
export type MetricKind = 'sum' | 'gauge' | 'last';

/** One update to one series of a metric declared in a rule pack. */
export interface MetricUpdate {
  name: string;
  kind: MetricKind;
  value: number;
  unit: string;
  description: string;
  /** The series' attributes (the rule's `attributes` keys that the line provided). */
  attributes: Attributes;
  /** When the line says it happened, ms since the epoch. */
  timestamp: number;
}

/** What the caller knows about a line that the line itself does not say. */
export interface ParseContext {
  /** Time of the line when it carries none; default now. */
  timestamp?: number;
  /** OTel severity number when neither the line nor a rule sets one (stderr: 13, WARN). */
  defaultSeverity?: number;
  /** Copied onto every record (log.iostream, process.pid, the plugin's `attributes`). */
  attributes?: Attributes;
}

export interface ParseResult {
  record: LogRecordInput;
  metrics: MetricUpdate[];
  /** Names of the rules that matched, in order. */
  matched: string[];
}

export interface Parser {
  /** Where the rules came from (`default`, a file path): shown in messages. */
  readonly source: string;
  /** Rule names in evaluation order. */
  readonly rules: readonly string[];
  parse(line: string, context?: ParseContext): ParseResult;
  /**
   * An already-parsed JSON object (an event posted to the JSON intake), read like a JSON line:
   * message, level, time, flattened fields, then the rules over the message.
   */
  parseObject(obj: Record<string, unknown>, context?: ParseContext): ParseResult;
}
