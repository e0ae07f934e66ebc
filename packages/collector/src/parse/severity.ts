/**
 * Severities: the classification levels of the rule packs (low, medium, high, critical), the
 * level words that logs use, syslog's numeric severities and pino's numeric levels, all mapped
 * onto OpenTelemetry severity numbers (1–24).
 */

export type Classification = 'low' | 'medium' | 'high' | 'critical';

export const CLASSIFICATIONS: readonly Classification[] = ['low', 'medium', 'high', 'critical'];

/** OTel severity numbers of the first level of each range. */
export const SEVERITY = { TRACE: 1, DEBUG: 5, INFO: 9, WARN: 13, ERROR: 17, FATAL: 21 } as const;

const CLASSIFICATION_NUMBER: Record<Classification, number> = { low: 9, medium: 13, high: 17, critical: 21 };

const WORDS: Record<string, number> = {
  trace: 1,
  finest: 1,
  finer: 1,
  trce: 1, // .NET console
  trac: 1, // logrus on a terminal
  silly: 1, // winston
  debug: 5,
  fine: 5,
  dbg: 5,
  dbug: 5,
  debu: 5,
  verbose: 5,
  // PostgreSQL's levels of detail
  debug1: 5,
  debug2: 5,
  debug3: 5,
  debug4: 5,
  debug5: 5,
  http: 8, // winston: below info
  info: 9,
  information: 9,
  informational: 9,
  i: 9, // klog (Kubernetes) and glog: I, W, E, F
  log: 9, // PostgreSQL
  note: 9, // MySQL
  system: 10, // MySQL: always logged, not an error
  notice: 10,
  normal: 9, // Kubernetes events: Normal, Warning
  config: 9,
  warn: 13,
  warning: 13,
  wrn: 13,
  w: 13,
  error: 17,
  err: 17,
  erro: 17,
  severe: 17,
  eror: 17,
  fail: 17, // .NET console
  dpanic: 18, // zap: a panic in development, an error in production
  e: 17,
  crit: 21,
  critical: 21,
  fatal: 21,
  fata: 21,
  f: 21,
  pani: 23,
  alert: 22,
  emerg: 23,
  emergency: 23,
  panic: 23,
  // Classification words are level words too, so `severity: high` and a `level` group agree.
  low: 9,
  medium: 13,
  high: 17,
};

/** Syslog severities 0 (emerg) .. 7 (debug), RFC 5424 section 6.2.1. */
const SYSLOG = [23, 22, 21, 17, 13, 10, 9, 5];

/** OTel number for a level word or classification (case-insensitive); undefined when it is not one. */
export function severityFromWord(word: string): number | undefined {
  const direct = WORDS[word];
  if (direct !== undefined) return direct;
  return WORDS[word.toLowerCase()];
}

export function severityFromClassification(c: Classification): number {
  return CLASSIFICATION_NUMBER[c];
}

/** Pino levels (10 trace .. 60 fatal) first, since JSON logs use them most; otherwise an OTel number 1–24. */
export function severityFromNumber(n: number): number | undefined {
  switch (n) {
    case 10:
      return 1;
    case 20:
      return 5;
    case 30:
      return 9;
    case 40:
      return 13;
    case 50:
      return 17;
    case 60:
      return 21;
  }
  return Number.isInteger(n) && n >= 1 && n <= 24 ? n : undefined;
}

export function severityFromSyslog(severity: number): number | undefined {
  return SYSLOG[severity];
}

const TEXT = ['UNSPECIFIED', 'TRACE', 'TRACE2', 'TRACE3', 'TRACE4', 'DEBUG', 'DEBUG2', 'DEBUG3', 'DEBUG4', 'INFO', 'INFO2', 'INFO3', 'INFO4', 'WARN', 'WARN2', 'WARN3', 'WARN4', 'ERROR', 'ERROR2', 'ERROR3', 'ERROR4', 'FATAL', 'FATAL2', 'FATAL3', 'FATAL4'];

/** OTel's short name of a severity number (`WARN`, `ERROR2`). */
export function severityText(n: number): string {
  return TEXT[n] ?? 'UNSPECIFIED';
}

/** The classification that a severity number falls in: below WARN low, WARN medium, ERROR high, FATAL critical. */
export function classificationOf(n: number): Classification {
  if (n >= 21) return 'critical';
  if (n >= 17) return 'high';
  if (n >= 13) return 'medium';
  return 'low';
}
