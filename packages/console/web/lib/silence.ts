/**
 * A silence for an alert, as the notifier's API takes it: Alertmanager matchers on the alert's
 * labels (`alertname="cpu_high"`, `host.name="web-1"`), for a duration. Pure.
 */

/** `name="value"` with backslashes, quotes and newlines escaped as Alertmanager reads them. */
export function matcher(name: string, value: string): string {
  return `${name}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** One equality matcher per label, in key order: the silence covers exactly this alert's label set. */
export function matchersFor(labels: Record<string, string>): string[] {
  return Object.keys(labels)
    .sort()
    .filter((k) => labels[k] !== '')
    .map((k) => matcher(k, labels[k]!));
}

export const SILENCE_DURATIONS = ['1h', '4h', '24h', '7d'] as const;

export function silenceBody(labels: Record<string, string>, duration: string, comment: string, createdBy = 'console') {
  return { matchers: matchersFor(labels), duration, comment: comment || 'silenced from the console', createdBy };
}
