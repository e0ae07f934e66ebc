import type { CollectorPlugin } from '../plugin.js';
import { filePlugin } from './file/index.js';
import { hostPlugin } from './host/index.js';
import { probePlugin } from './probe/index.js';
import { prometheusPlugin } from './prometheus/index.js';
import { otlpPlugin } from './otlp/plugin.js';
import { execPlugin } from './exec/index.js';
import { sqlPlugin } from './sql/index.js';

/**
 * Every plugin kind the collector knows, by `type`. One line per plugin; each plugin lives in
 * its own folder next to this file.
 */
export const PLUGINS: Record<string, CollectorPlugin> = {
  host: hostPlugin as unknown as CollectorPlugin,
  prometheus: prometheusPlugin as unknown as CollectorPlugin,
  probe: probePlugin as unknown as CollectorPlugin,
  file: filePlugin as unknown as CollectorPlugin,
  otlp: otlpPlugin as unknown as CollectorPlugin,
  exec: execPlugin as unknown as CollectorPlugin,
  sql: sqlPlugin as unknown as CollectorPlugin,
};
