/** How numbers and times read on the console. Pure: `now` is passed in. */

export function percent(fraction: number | null | undefined, digits = 0): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '–';
  return `${(fraction * 100).toFixed(digits)} %`;
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

/** 1536 → "1.5 KB" (powers of 1024, as disks and memory are counted). */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  let v = Math.abs(n);
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${n < 0 ? '-' : ''}${i === 0 ? v.toFixed(0) : v.toFixed(v < 10 ? 1 : 0)} ${UNITS[i]}`;
}

/** Seconds → "3d 4h", "5m 2s", "40s". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.floor(seconds);
  const parts: [number, string][] = [
    [Math.floor(s / 86_400), 'd'],
    [Math.floor((s % 86_400) / 3_600), 'h'],
    [Math.floor((s % 3_600) / 60), 'm'],
    [s % 60, 's'],
  ];
  const first = parts.findIndex(([v]) => v > 0);
  if (first < 0) return '0s';
  return parts
    .slice(first, first + 2)
    .filter(([v]) => v > 0)
    .map(([v, u]) => `${v}${u}`)
    .join(' ');
}

/** An RFC 3339 time relative to now: "just now", "5m ago", "in 2h". */
export function ago(iso: string, now: number): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '–';
  const d = (now - t) / 1000;
  if (Math.abs(d) < 5) return 'just now';
  return d > 0 ? `${duration(d)} ago` : `in ${duration(-d)}`;
}

/** "2025-11-22 11:58:00" in the browser's time zone offset given (minutes east of UTC). */
export function timestamp(iso: string, offsetMinutes = 0): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '–';
  return new Date(t + offsetMinutes * 60_000).toISOString().replace('T', ' ').slice(0, 19);
}

export function number(n: number | null | undefined, digits = 2): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (Math.abs(n) >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return Number.isInteger(n) ? String(n) : n.toFixed(digits);
}

export type Level = 'ok' | 'warning' | 'critical' | 'unknown';

/** The colour class of a fraction against warning and critical thresholds. */
export function levelOf(fraction: number | null | undefined, warning: number, critical: number): Level {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return 'unknown';
  return fraction >= critical ? 'critical' : fraction >= warning ? 'warning' : 'ok';
}
