import { pino, type Logger } from 'pino';

export type { Logger };

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LEVELS)[number];

export function isLogLevel(v: string): v is LogLevel {
  return (LEVELS as readonly string[]).includes(v);
}

let root: Logger | undefined;

/**
 * The one logger: JSON lines on stdout, level from LOG_LEVEL (or config `log.level`).
 * Never log message bodies, recipients or credentials: operators' data stays out of our logs.
 */
export function rootLogger(): Logger {
  if (!root) {
    const env = process.env.LOG_LEVEL ?? 'info';
    root = pino({
      level: isLogLevel(env) ? env : 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    });
  }
  return root;
}

export function setLogLevel(level: LogLevel): void {
  rootLogger().level = level;
}

export function logger(component: string): Logger {
  return rootLogger().child({ component });
}
