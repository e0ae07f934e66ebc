import type { Attributes, Meter } from '@opentelemetry/api';
import type { TSchema, StaticDecode } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AccessPolicy, HealthRegistry, Telemetry } from '@vigil/platform';
import type { HostIdentity } from './identity.js';

/**
 * The collector's plugin contract. A plugin is one folder under `src/plugins/<type>/` exporting a
 * `CollectorPlugin`: its type name, the TypeBox schema of its options (with documented defaults),
 * and `create`, which returns an instance with `start`/`stop`. Plugins never talk to the bus
 * directly: they hand records to the `PluginContext` sinks, which queue, spool and ship them.
 */

/** One log record or event, before it is encoded as OTLP. */
export interface LogRecordInput {
  /** When it happened, ms since the epoch (defaults to now). */
  timestamp?: number;
  /** OpenTelemetry severity number (1–24); 0 or absent = unspecified. */
  severityNumber?: number;
  severityText?: string;
  body: string;
  attributes?: Attributes;
  /** Set for structured events (`app.startup`, `probe.state_changed`, ...). */
  eventName?: string;
}

export type OtlpSignal = 'metrics' | 'logs';

/** A reason to hold senders back for a while. */
export interface Pressure {
  retryAfterSeconds: number;
  reason: string;
}

export interface PluginContext {
  /** Instance name (unique per collector). */
  readonly name: string;
  /** Identity and config labels of this host: the resource of every record. */
  readonly resource: Attributes;
  readonly identity: HostIdentity;
  /**
   * Metrics: observable or synchronous instruments on this meter are collected every
   * `collector.interval` and shipped with the resource above. Instrument names follow the
   * OpenTelemetry semantic conventions.
   */
  readonly meter: Meter;
  /**
   * Hands log records to the shipper. Resolves once they are durable: accepted by the bus or
   * written to the on-disk spool. A file tailer advances its checkpoint only after this resolves.
   */
  logs(records: LogRecordInput[]): Promise<void>;
  /** Emits one structured event (shorthand for `logs([{ eventName, ... }])`). */
  event(name: string, body: string, attributes?: Attributes, severityNumber?: number): Promise<void>;
  /**
   * Passes an already-encoded OTLP export request through (the OTLP receiver, the Prometheus
   * scraper). `key` orders records of one source; default the host id. `count` is the number of
   * points or log records in it, for the per-source counters (default 1).
   */
  otlp(signal: OtlpSignal, payload: Buffer, key?: string, count?: number): Promise<void>;
  /**
   * Why records should not be accepted right now, if so: what is behind the shipper cannot keep
   * up (the spool nearly full while Kafka is away; the all-in-one's ingest too far behind). A
   * receiver answers 429 with Retry-After, so senders wait instead of the collector dropping.
   */
  pressure(): Pressure | undefined;
  /** A directory of this instance's own (checkpoints), created on first use. */
  stateDir(): Promise<string>;
  /** The collector's HTTP server, for plugins that receive (OTLP, JSON events). Absent when it has none. */
  readonly http?: FastifyInstance;
  readonly health: HealthRegistry;
  readonly telemetry: Telemetry;
  /** Who may call the API (`http.token`, `http.tokens`): a plugin serving HTTP on its own server installs it with installAccessControl. */
  readonly access: AccessPolicy;
  /** Aborted when the collector stops. */
  readonly signal: AbortSignal;
}

export interface PluginInstance {
  start(): Promise<void>;
  /** Stops and flushes what it holds (the collector awaits this before the shipper's final flush). */
  stop(): Promise<void>;
}

export interface CollectorPlugin<S extends TSchema = TSchema> {
  readonly type: string;
  /** Options schema (without `type` and `name`), each key with a default and a description. */
  readonly schema: S;
  readonly description: string;
  /**
   * Checks what the schema cannot express (regexes, rule packs, files to read, cross-field
   * limits) without starting anything; throws a ConfigError naming keys under `at`
   * (e.g. `f.yaml: collector.plugins[2]`). Called by `vigil validate` and before `create`.
   */
  check?(options: StaticDecode<S>, at: string): void;
  create(options: StaticDecode<S>, ctx: PluginContext): PluginInstance;
}

/** Keeps `create`'s options typed by the schema when a plugin is declared. */
export function definePlugin<S extends TSchema>(plugin: CollectorPlugin<S>): CollectorPlugin<S> {
  return plugin;
}
