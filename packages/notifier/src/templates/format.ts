import type { AlertSeverity } from '@vigil/platform';

/**
 * Formatting for notification texts and channel payloads beyond the basics in templates.ts:
 * time zones, severity colours and marks, truncation, lists. Total functions: they never throw,
 * so a template cannot fail on an odd value.
 */

/** Colours by level (Slack attachment colours; Discord takes the same as an integer). Resolved is green whatever the level. */
export const SEVERITY_COLOURS: Record<AlertSeverity | 'resolved', string> = {
  info: '#439FE0',
  warning: '#F2A900',
  critical: '#D00000',
  resolved: '#2EB67D',
};

export const SEVERITY_EMOJI: Record<AlertSeverity | 'resolved', string> = {
  info: 'ℹ️',
  warning: '⚠️',
  critical: '🚨',
  resolved: '✅',
};

function level(severity: unknown, status?: unknown): AlertSeverity | 'resolved' {
  if (status === 'resolved') return 'resolved';
  return severity === 'critical' || severity === 'warning' ? severity : 'info';
}

/** `#RRGGBB` for a severity, green when `status` is resolved. */
export function severityColour(severity: unknown, status?: unknown): string {
  return SEVERITY_COLOURS[level(severity, status)];
}

/** The same colour as an integer (Discord embeds). */
export function severityColourInt(severity: unknown, status?: unknown): number {
  return Number.parseInt(severityColour(severity, status).slice(1), 16);
}

export function severityEmoji(severity: unknown, status?: unknown): string {
  return SEVERITY_EMOJI[level(severity, status)];
}

/** At most `max` characters (code points), the last one an ellipsis when cut. */
export function truncate(v: unknown, max: unknown): string {
  const text = String(v ?? '');
  const n = typeof max === 'number' ? max : Number(max);
  if (!Number.isFinite(n) || n < 1) return text;
  const chars = Array.from(text);
  if (chars.length <= n) return text;
  return `${chars.slice(0, Math.max(0, Math.floor(n) - 1)).join('')}…`;
}

/** `{{join list ", "}}`: an array's items (or an object's values) joined; `, ` by default. */
export function join(v: unknown, sep?: unknown): string {
  const s = typeof sep === 'string' ? sep : ', ';
  if (Array.isArray(v)) return v.map((x) => String(x ?? '')).join(s);
  if (v !== null && typeof v === 'object') return Object.values(v).map((x) => String(x ?? '')).join(s);
  return String(v ?? '');
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether `timeZone` is an IANA zone this runtime knows (checked at config load). */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/**
 * RFC 3339 or epoch milliseconds → `2024-05-01 14:34:56 GMT+2` in `timeZone` (`… UTC` in UTC);
 * anything else is shown as it is, an unknown zone falls back to UTC.
 */
export function timeIn(v: unknown, timeZone = 'UTC'): string {
  if (typeof v !== 'string' && typeof v !== 'number') return '';
  const ms = typeof v === 'number' ? v : Date.parse(v);
  if (!Number.isFinite(ms)) return String(v);
  if (timeZone === 'UTC' || !isTimeZone(timeZone)) return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  const p: Record<string, string> = {};
  for (const part of formatter(timeZone).formatToParts(ms)) p[part.type] = part.value;
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${p.timeZoneName}`;
}
