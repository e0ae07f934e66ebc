export * from './clickhouse.js';
export * from './migrations.js';
export * from './layout.js';
