export { createCollectorRole, checkCollectorConfig, type CollectorRole, type CollectorOptions } from './role.js';
export { hostIdentity, type HostIdentity } from './identity.js';
export { otlpIntake, type OtlpIntakeOptions } from './otlp-http.js';
export { BusMetricExporter, BusLogExporter } from './exporters.js';
export { encodeLogRecords } from './records.js';
export { directShipper, type Shipper } from './shipper.js';
export { PLUGINS } from './plugins/index.js';
export * from './plugin.js';
export * from './plugins/host/procfs.js';
