export { createIngestRole, deadLetter, type DeadLetter } from './role.js';
export { dedupToken, planRanges, type OffsetRange } from './ledger.js';
export { METRIC_TABLES, TableRows, alertRow, logRow, metricRow, type Row, type TableName } from './rows.js';
