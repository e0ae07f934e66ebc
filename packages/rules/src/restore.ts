import { queryRows, type AlertSeverity, type Storage } from '@vigil/platform';
import type { RestoredAlert } from './engine.js';
import { FOREIGN_RULES } from './rules.js';

interface Row {
  fingerprint: string;
  status: string;
  severity: string;
  rule: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAtMs: string | number;
  value: number;
}

/**
 * The alerts that are firing according to the alert history (`vigil_alerts`, written by ingest
 * from `vigil.alerts`): the latest transition of each fingerprint, kept when it is a firing one.
 * When a firing and a resolve share an EventTime, the resolve wins. Times are read as Unix
 * milliseconds so the server's time zone cannot shift them. Alerts no rule raised (Prometheus's,
 * taken in by the notifier) are not this worker's to resolve.
 */
export async function loadFiringAlerts(storage: Storage): Promise<RestoredAlert[]> {
  const latest = "(EventTime, Status = 'resolved')";
  const rows = await queryRows<Row>(
    storage,
    `SELECT Fingerprint AS fingerprint,
            argMax(Status, ${latest}) AS status,
            argMax(Severity, ${latest}) AS severity,
            argMax(Rule, ${latest}) AS rule,
            argMax(Labels, ${latest}) AS labels,
            argMax(Annotations, ${latest}) AS annotations,
            toUnixTimestamp64Milli(argMax(StartsAt, ${latest})) AS startsAtMs,
            argMax(Value, ${latest}) AS value
       FROM ${storage.table('vigil_alerts')}
      GROUP BY Fingerprint
     HAVING status = {status:String} AND rule NOT IN {foreign:Array(String)}`,
    { status: 'firing', foreign: FOREIGN_RULES },
  );
  return rows.map((r) => ({
    fingerprint: r.fingerprint,
    rule: r.rule,
    severity: r.severity as AlertSeverity,
    labels: r.labels,
    annotations: r.annotations,
    startsAt: new Date(Number(r.startsAtMs)).toISOString(),
    value: Number(r.value),
  }));
}
