export * from './clickhouse.js';
export * from './migrations.js';
