import type { ResourceInfo } from '@vigil/platform';

/**
 * Sources and their watermarks: telling late data from absent data. A source is where records
 * come from (a host, or an application instance): `host.id`, else `service.instance.id`, else
 * `host.name`, else `service.name`, else the Kafka key, as ARCHITECTURE.md keys the topics. Its
 * watermark is the newest event time seen from it. Pure: every function takes `now`, the
 * processing time, apart from the event times the records carry.
 *
 * A window ending at `t` is complete for a source once its watermark reached `t`. Metrics and log
 * records travel on different topics, so one may lag the other: each signal has its own watermark
 * (what is late is judged per signal), while silence is judged on the source as a whole. A source
 * that stops sending first *stalls* (windows are evaluated anyway after `maxLateness`, but an
 * incomplete window never resolves or lowers an alert) and then, after `silentAfter` (and at least
 * three of its usual gaps), is *silent*: absent, not late.
 */

/** 0: metrics, 1: log records. */
export type Signal = 0 | 1;
/** What a rule reads: metrics, log records, or both (a ratio of a metric to an event count). */
export type Reads = Signal | 2;

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
  /** Aligned time up to which its windows were scheduled for evaluation (the larger of the signals'). */
  horizon: number;
  silent: boolean;
  /** Per signal: newest event time, processing time it last moved, and the scheduled horizon. */
  readonly wm: [number, number];
  readonly at: [number, number];
  readonly hz: [number, number];
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
  return {
    id,
    partition,
    watermark: -Infinity,
    advancedAt: now,
    firstSeenAt: now,
    advances: 0,
    gapMs: 0,
    labels,
    horizon: -Infinity,
    silent: false,
    wm: [-Infinity, -Infinity],
    at: [now, now],
    hz: [-Infinity, -Infinity],
  };
}

/** Moves the signal's watermark to `ts` when newer; true when it moved. */
export function advanceSource(s: Source, signal: Signal, ts: number, now: number): boolean {
  if (!(ts > s.wm[signal])) return false;
  s.wm[signal] = ts;
  s.at[signal] = now;
  if (ts > s.watermark) s.watermark = ts;
  if (now > s.advancedAt) {
    const gap = now - s.advancedAt;
    s.gapMs = s.advances <= 1 ? gap : s.gapMs * 0.8 + gap * 0.2;
    s.advancedAt = now;
  }
  s.advances++;
  return true;
}

/**
 * How far the source's windows over a signal may be evaluated: that signal's watermark, moved on
 * with the processing clock once it has waited `maxLateness` for it (so a stalled signal's windows still close).
 */
export function estimate(s: Source, signal: Signal, now: number, t: SourceTiming): number {
  const waited = now - s.at[signal] - t.maxLatenessMs;
  return waited > 0 ? s.wm[signal] + waited : s.wm[signal];
}

/** The horizon of what a group reads: one signal's, or for both the lesser of those the source sends. */
export function horizonFor(s: Source, reads: Reads): number {
  if (reads !== 2) return s.hz[reads];
  if (s.wm[0] === -Infinity) return s.hz[1];
  if (s.wm[1] === -Infinity) return s.hz[0];
  return Math.min(s.hz[0], s.hz[1]);
}

/** Whether the source has passed `t` in what a group reads. */
export function passed(s: Source, reads: Reads, t: number): boolean {
  if (reads !== 2) return s.wm[reads] >= t;
  return (s.wm[0] === -Infinity || s.wm[0] >= t) && (s.wm[1] === -Infinity || s.wm[1] >= t);
}

/** Whether the source as a whole has sent nothing for longer than `maxLateness`. */
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
