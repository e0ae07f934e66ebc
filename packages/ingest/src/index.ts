export { createIngestRole } from './role.js';
export { dedupToken, planRanges, type OffsetRange } from './ledger.js';
export { METRIC_TABLES, COLUMNS, LOG_COLUMNS, ALERT_COLUMNS, TableRows, alertRow, columnsOf, insertRows, logRow, metricRow, type Row, type TableName } from './rows.js';
