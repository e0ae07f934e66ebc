/**
 * Label names as Prometheus and Alertmanager accept them (`[a-zA-Z_][a-zA-Z0-9_]*`), made from
 * OpenTelemetry attribute names (`host.name`) by the rule the OpenTelemetry Prometheus exporter
 * (`@opentelemetry/exporter-prometheus`) applies to attribute keys: every character outside
 * `[A-Za-z0-9_]` becomes `_`, and runs of `_` become one (`host.name` → `host_name`,
 * `vigil.error.fingerprint` → `vigil_error_fingerprint`). Two additions where that rule leaves an
 * invalid name: a leading digit gets the prefix `key_`, as the OpenTelemetry specification says,
 * and an empty name is dropped. Where Vigil speaks to the Prometheus world (webhook bodies, the
 * Alertmanager-compatible API) label maps go through `prometheusLabels`.
 */

const INVALID = /[^A-Za-z0-9_]/g;
const UNDERSCORES = /_{2,}/g;

/** `host.name` → `host_name`; undefined for a name that leaves nothing. */
export function prometheusLabelName(name: string): string | undefined {
  if (name === '') return undefined;
  const out = name.replace(INVALID, '_').replace(UNDERSCORES, '_');
  return /^[0-9]/.test(out) ? `key_${out}` : out;
}

/**
 * A label map with Prometheus-safe names. Names that map to the same one (`host.name` and
 * `host_name`) keep the values of both, joined by `;` in the order of their original names, as
 * the OpenTelemetry specification says for attributes that collide.
 */
export function prometheusLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(labels).sort()) {
    const safe = prometheusLabelName(name);
    if (safe === undefined) continue;
    if (safe in out) {
      out[safe] = `${out[safe]};${labels[name]}`;
    } else out[safe] = labels[name]!;
  }
  return out;
}
