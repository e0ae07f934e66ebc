import { SeverityNumber } from '@opentelemetry/api';

/**
 * The probe's logic, pure: what kind of check a URL asks for, what a result means (healthy,
 * degraded, unhealthy by the thresholds of MISSION.md B), and when a state change is an event.
 */

export type ProbeKind = 'http' | 'tcp' | 'postgres' | 'mysql' | 'redis';
export type ProbeState = 'healthy' | 'degraded' | 'unhealthy';

/** `vigil.probe.state` values. */
export const STATE_VALUE: Record<ProbeState, number> = { healthy: 0, degraded: 1, unhealthy: 2 };

/** Event severity of entering a state. */
export const STATE_SEVERITY: Record<ProbeState, SeverityNumber> = { healthy: SeverityNumber.INFO, degraded: SeverityNumber.WARN, unhealthy: SeverityNumber.ERROR };

const KINDS: Record<string, ProbeKind> = { 'http:': 'http', 'https:': 'http', 'tcp:': 'tcp', 'postgres:': 'postgres', 'postgresql:': 'postgres', 'mysql:': 'mysql', 'mariadb:': 'mysql', 'redis:': 'redis', 'rediss:': 'redis' };

/** The check a URL asks for, by its scheme; undefined for a scheme we do not probe. */
export function probeKind(url: string): ProbeKind | undefined {
  try {
    return KINDS[new URL(url).protocol];
  } catch {
    return undefined;
  }
}

/** The URL as it may appear in metrics, events and logs: no user, password or query (they may hold secrets). */
export function safeTarget(url: string): string {
  const u = new URL(url);
  const path = u.protocol === 'http:' || u.protocol === 'https:' ? u.pathname : u.pathname === '/' ? '' : u.pathname;
  return `${u.protocol}//${u.host}${path}`;
}

/** What one check observed. */
export interface Outcome {
  /** Time to the answer (for HTTP: the whole body), ms. */
  latencyMs: number;
  /** Why the check failed (unreachable, wrong status, body mismatch, timeout); absent when it succeeded. */
  error?: string;
  statusCode?: number;
  /** Days until the server certificate expires (HTTPS). */
  tlsDaysLeft?: number;
}

export interface Thresholds {
  degradedMs: number;
  unhealthyMs: number;
}

/** Unhealthy when the check failed or took `unhealthy` or longer; degraded from `degraded`; healthy below. */
export function probeState(o: Outcome, t: Thresholds): ProbeState {
  if (o.error !== undefined) return 'unhealthy';
  if (o.latencyMs >= t.unhealthyMs) return 'unhealthy';
  if (o.latencyMs >= t.degradedMs) return 'degraded';
  return 'healthy';
}

/** Why a probe is in its state, for the event body. */
export function stateReason(o: Outcome, t: Thresholds): string {
  if (o.error !== undefined) return o.error;
  const ms = Math.round(o.latencyMs);
  if (o.latencyMs >= t.unhealthyMs) return `answered in ${ms} ms (unhealthy from ${t.unhealthyMs} ms)`;
  if (o.latencyMs >= t.degradedMs) return `answered in ${ms} ms (degraded from ${t.degradedMs} ms)`;
  return `answered in ${ms} ms`;
}

/** A state change to report: the first observation, then every change. */
export function stateChanged(prev: ProbeState | undefined, next: ProbeState): boolean {
  return prev !== next;
}

/**
 * Judges an HTTP answer: the status must be in `expect` (empty: any 2xx or 3xx), and the body
 * must match `bodyMatch` when one is given. Returns the failure, or undefined.
 */
export function httpVerdict(status: number, body: string | undefined, expect: readonly number[], bodyMatch?: RegExp): string | undefined {
  const ok = expect.length > 0 ? expect.includes(status) : status >= 200 && status < 400;
  if (!ok) return `HTTP ${status} (expected ${expect.length > 0 ? expect.join(', ') : '2xx or 3xx'})`;
  if (bodyMatch && !bodyMatch.test(body ?? '')) return `the body does not match /${bodyMatch.source}/`;
  return undefined;
}

/** Whole days from `nowMs` to a certificate's `valid_to` (`Mar  1 12:00:00 2030 GMT`); negative once expired. */
export function tlsDaysLeft(validTo: string, nowMs: number): number | undefined {
  const t = Date.parse(validTo);
  if (Number.isNaN(t)) return undefined;
  return Math.floor((t - nowMs) / 86_400_000);
}
