import type { ResourceInfo } from '@vigil/platform';

/**
 * Sources and their watermarks: telling late data from absent data. A source is where records
 * come from (a host, or an application instance): `host.id`, else `service.instance.id`, else
 * `host.name`, else `service.name`, else the Kafka key, as ARCHITECTURE.md keys the topics. Its
 * watermark is the newest event time seen from it. Pure: every function takes `now`, the
 * processing time, apart from the event times the records carry.
 *
 * A window ending at `t` is complete for a source once its watermark reached `t`. A source
 * whose watermark stops moving first *stalls* (windows are evaluated anyway after `maxLateness`,
 * but an incomplete window never resolves or lowers an alert) and then, after `silentAfter` (and
 * at least three of its usual gaps), is *silent*: absent, not late.
 */

export const IDENTITY_KEYS = ['host.id', 'service.instance.id', 'host.name', 'service.name'] as const;

/** A resource's source identity; `key` (the Kafka record key) when it carries none of the identity attributes. */
export function sourceId(resource: ResourceInfo, key: string | null | undefined): string {
  const a = resource.attributes;
  for (const k of IDENTITY_KEYS) {
    const v = a[k];
    if (v) return v;
  }
  return key || 'unknown';
}

export interface Source {
  readonly id: string;
  /** Bus partition its records arrive on (alerts belong to their source's partition). */
  partition: number;
  /** Newest event time seen (ms). */
  watermark: number;
  /** Processing time of the last advance of the watermark. */
  advancedAt: number;
  firstSeenAt: number;
  /** Advances seen (a source seen once is not expected to keep sending). */
  advances: number;
  /** Typical processing-time gap between advances (moving average). */
  gapMs: number;
  /** Labels of its source_silent alert (vigil.source, host.name, service.name). */
  labels: Record<string, string>;
  /** Aligned time up to which its windows were scheduled for evaluation. */
  horizon: number;
  silent: boolean;
}

export interface SourceTiming {
  stepMs: number;
  maxLatenessMs: number;
  silentAfterMs: number;
}

export function newSource(id: string, resource: ResourceInfo, partition: number, now: number): Source {
  const labels: Record<string, string> = { 'vigil.source': id };
  const host = resource.attributes['host.name'];
  const service = resource.attributes['service.name'];
  if (host) labels['host.name'] = host;
  if (service) labels['service.name'] = service;
  return { id, partition, watermark: -Infinity, advancedAt: now, firstSeenAt: now, advances: 0, gapMs: 0, labels, horizon: -Infinity, silent: false };
}

/** Moves the watermark to `ts` when newer; true when it moved. */
export function advanceSource(s: Source, ts: number, now: number): boolean {
  if (!(ts > s.watermark)) return false;
  s.watermark = ts;
  if (now > s.advancedAt) {
    const gap = now - s.advancedAt;
    s.gapMs = s.advances <= 1 ? gap : s.gapMs * 0.8 + gap * 0.2;
    s.advancedAt = now;
  }
  s.advances++;
  return true;
}

/**
 * How far the source's windows may be evaluated: its watermark, moved on with the processing
 * clock once it has waited `maxLateness` for the source (so a stalled source's windows still close).
 */
export function estimate(s: Source, now: number, t: SourceTiming): number {
  const waited = now - s.advancedAt - t.maxLatenessMs;
  return waited > 0 ? s.watermark + waited : s.watermark;
}

/** Whether the source has waited longer than `maxLateness`. */
export function stalled(s: Source, now: number, t: SourceTiming): boolean {
  return now - s.advancedAt > t.maxLatenessMs;
}

/** Whether the source is silent: nothing for `silentAfter` and three usual gaps, having sent at least three times. */
export function isSilent(s: Source, now: number, t: SourceTiming): boolean {
  if (s.advances < 3) return false;
  return now - s.advancedAt >= Math.max(t.silentAfterMs, 3 * s.gapMs);
}

/** The aligned evaluation time at or before `ms`. */
export function alignDown(ms: number, stepMs: number): number {
  return Math.floor(ms / stepMs) * stepMs;
}

/** The first aligned evaluation time after `ms` (a sample at `ms` belongs to the window ending there). */
export function alignUp(ms: number, stepMs: number): number {
  return (Math.floor(ms / stepMs) + 1) * stepMs;
}
