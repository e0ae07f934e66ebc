import type { DependencyStatus } from './bus/types.js';

export interface DependencyState {
  status: DependencyStatus;
  detail?: string;
  /** A consumer: the partitions this instance serves (`otlp_metrics[0,2] otlp_logs[0,2]`). */
  partitions?: string;
}

export interface HealthReport {
  status: 'ok' | 'degraded' | 'starting' | 'unavailable';
  checks: Record<string, DependencyState>;
}

/** What /health shows: each dependency by name; ready when every one is up or degraded. */
export class HealthRegistry {
  private readonly checks = new Map<string, () => DependencyState>();

  register(name: string, check: () => DependencyState): void {
    this.checks.set(name, check);
  }

  report(): HealthReport {
    const checks: Record<string, DependencyState> = {};
    for (const [name, check] of this.checks) {
      try {
        checks[name] = check();
      } catch (err) {
        checks[name] = { status: 'down', detail: (err as Error).message };
      }
    }
    const states = Object.values(checks).map((c) => c.status);
    const status = states.includes('down') ? 'unavailable' : states.includes('starting') ? 'starting' : states.includes('degraded') ? 'degraded' : 'ok';
    return { status, checks };
  }
}
