import type { Bus } from './bus/types.js';
import type { VigilConfig } from './config/schema.js';
import type { HealthRegistry } from './health.js';
import type { Storage } from './storage/clickhouse.js';
import type { Telemetry } from './telemetry/index.js';

/** What a role is given by the process that runs it (a `vigil <role>` command or all-in-one). */
export interface RoleContext {
  config: VigilConfig;
  bus: Bus;
  /** Opened and migrated by the process before any role starts; absent for the collector. */
  storage?: Storage;
  telemetry: Telemetry;
  health: HealthRegistry;
}

/** A long-running part of Vigil. `stop` flushes what it holds and commits what it finished. */
export interface Role {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function requireStorage(ctx: RoleContext, role: string): Storage {
  if (!ctx.storage) throw new Error(`${role} needs ClickHouse storage, but none was opened`);
  return ctx.storage;
}
