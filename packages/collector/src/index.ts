export { createCollectorRole, type CollectorRole } from './role.js';
export { hostIdentity, type HostIdentity } from './identity.js';
export { otlpIntake, type OtlpIntakeOptions } from './otlp-http.js';
export { BusMetricExporter, BusLogExporter } from './exporters.js';
export * from './host/procfs.js';
