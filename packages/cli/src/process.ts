import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import {
  HealthRegistry,
  KafkaBus,
  LogBus,
  accessPolicy,
  backoffDelay,
  createHttpServer,
  createTelemetry,
  describeTokens,
  logger,
  migrate,
  openStorage,
  setLogLevel,
  sleep,
  type Bus,
  type Role,
  type RoleContext,
  type Storage,
  type VigilConfig,
} from '@vigil/platform';
import { lockDataDir } from './datadir.js';

export type RoleName = 'collector' | 'ingest' | 'rules' | 'notifier' | 'query-api';

/** Consumers start before producers, so nothing waits on a group that is not there yet. */
const START_ORDER: RoleName[] = ['ingest', 'notifier', 'rules', 'query-api', 'collector'];
const NEEDS_STORAGE: RoleName[] = ['ingest', 'rules', 'notifier', 'query-api'];
const USES_BUS: RoleName[] = ['collector', 'ingest', 'rules', 'notifier'];

const log = logger('vigil');

export interface RunningVigil {
  app: FastifyInstance;
  url: string;
  bus: Bus;
  storage?: Storage;
  roles: Map<RoleName, Role>;
  health: HealthRegistry;
  /** Resolves when every role has started; dependencies that are down keep it pending (see /health). */
  started: Promise<void>;
  /** Flushes, commits and closes everything, in order; also while still starting. */
  stop(): Promise<void>;
}

export interface RunOptions {
  mode: 'all-in-one' | 'distributed';
  roles: RoleName[];
  /** The config file, when there is one: a rules reload reads its rules section again. */
  configFile?: string;
}

async function untilMigrated(storage: Storage, retentionMs: number, signal: AbortSignal): Promise<void> {
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      if (await storage.ping()) {
        await migrate(storage, retentionMs);
        return;
      }
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not apply the schema; retrying');
    }
    await sleep(backoffDelay(attempt, 500, 15_000), signal);
  }
}

/** Starts the HTTP server, then (in the background, see `started`) the given roles on one bus and one storage. */
export async function runVigil(config: VigilConfig, opts: RunOptions): Promise<RunningVigil> {
  setLogLevel(config.log.level);
  const health = new HealthRegistry();
  const abort = new AbortController();
  const telemetry = createTelemetry(opts.mode === 'all-in-one' ? 'vigil' : `vigil-${opts.roles.join('+')}`);
  const embedded = !config.clickhouse.url;
  const wantsStorage = opts.roles.some((r) => NEEDS_STORAGE.includes(r));
  const unlock = wantsStorage && embedded ? lockDataDir(config.dataDir) : () => undefined;

  const bus: Bus =
    opts.mode === 'all-in-one'
      ? new LogBus({ dir: resolve(config.bus.dir ?? join(config.dataDir, 'bus')), partitions: config.kafka.partitions, segmentBytes: config.bus.segmentBytes })
      : new KafkaBus({
          brokers: config.kafka.brokers,
          clientId: config.kafka.clientId,
          partitions: config.kafka.partitions,
          compression: config.kafka.compression,
          dlqTopic: config.kafka.topics.dlq,
          meter: telemetry.meter,
          replicationFactor: config.kafka.replicationFactor,
          ...(config.kafka.minInsyncReplicas !== undefined ? { minInsyncReplicas: config.kafka.minInsyncReplicas } : {}),
          createTopics: config.kafka.createTopics,
          sessionTimeoutMs: config.kafka.sessionTimeout,
        });
  // Readiness counts what the roles use: a query API alone never connects to Kafka.
  if (opts.roles.some((r) => USES_BUS.includes(r))) health.register(bus.kind === 'kafka' ? 'kafka' : 'bus', () => bus.status());

  let storage: Storage | undefined;
  let pinger: NodeJS.Timeout | undefined;
  if (wantsStorage) {
    const s = openStorage({
      url: config.clickhouse.url,
      username: config.clickhouse.username,
      password: config.clickhouse.password,
      database: config.clickhouse.database,
      dataDir: resolve(config.dataDir),
      ...(config.clickhouse.cluster ? { cluster: config.clickhouse.cluster } : {}),
    });
    storage = s;
    health.register('clickhouse', () => s.status());
    pinger = setInterval(() => void s.ping(), 10_000);
    pinger.unref();
  }

  let started = false;
  health.register('roles', () => (started ? { status: 'up' } : { status: 'starting', detail: 'roles are starting' }));

  const ctx: RoleContext = { config, bus, storage, telemetry, health };
  const access = accessPolicy(config.http);
  const app = createHttpServer(health, telemetry, { access });
  const roles = new Map<RoleName, Role>();
  for (const name of START_ORDER.filter((r) => opts.roles.includes(r))) {
    // Each role's package is loaded only when it runs: a collector process does not carry the
    // ingest, rules, notifier and query API code (and what they import) in its memory.
    switch (name) {
      case 'collector': {
        const { createCollectorRole, registerIntake } = await import('@vigil/collector');
        // All-in-one: what the intake accepted and ingest has not stored is bounded (bus.maxPendingBytes).
        const pressure =
          bus instanceof LogBus
            ? () => {
                const lag = bus.lagOf(config.ingest.groupId);
                if (!lag || lag.bytes <= config.bus.maxPendingBytes) return undefined;
                return { retryAfterSeconds: 5, reason: `${lag.bytes} bytes (${lag.records} records) wait to be stored, more than bus.maxPendingBytes (${config.bus.maxPendingBytes})` };
              }
            : undefined;
        const collector = createCollectorRole(ctx, { http: app, pressure });
        roles.set(name, collector);
        // OTLP/HTTP and JSON events on the main port, through the collector's queue and spool.
        registerIntake(app, { sink: () => collector.sink('http') });
        break;
      }
      case 'ingest': {
        const { createIngestRole } = await import('@vigil/ingest');
        roles.set(name, createIngestRole(ctx));
        break;
      }
      case 'rules': {
        const { createRulesRole, registerRulesApi } = await import('@vigil/rules');
        const rules = createRulesRole(ctx, opts.configFile ? { configFile: opts.configFile } : {});
        roles.set(name, rules);
        // GET /api/v1/rules (read), POST /api/v1/rules/reload (write).
        registerRulesApi(app, rules);
        break;
      }
      case 'notifier': {
        const { createNotifierRole, registerNotifierApi, registerAlertmanagerApi } = await import('@vigil/notifier');
        const notifier = createNotifierRole(ctx);
        roles.set(name, notifier);
        // notify, test, preview, deliveries and silences, each route with its scope.
        registerNotifierApi(app, notifier.services);
        // Alertmanager's v2 API: Prometheus posts its alerts, amtool and Grafana read alerts and silences.
        registerAlertmanagerApi(app, notifier.services);
        break;
      }
      case 'query-api': {
        const { registerQueryApi } = await import('@vigil/query-api');
        registerQueryApi(app, ctx);
        break;
      }
    }
  }

  // The server comes first, so /health tells what is still starting (or down) from the first second.
  const address = await app.listen({ host: config.http.host, port: config.http.port });
  const tokens = describeTokens(access);
  if (tokens.length > 0) log.info({ tokens }, 'API tokens configured: only /health, /health/live and /metrics answer without one');
  else {
    // Open reads are the default's promise on loopback only; on any other address they are worth a warning.
    const loopback = /^(127\.|::1$|localhost$)/.test(config.http.host);
    log[loopback ? 'info' : 'warn']({ host: config.http.host }, 'no API token: reads and ingest are open to whoever reaches this address, writes are refused; set VIGIL_API_TOKEN or http.tokens');
  }
  const running = new Set<RoleName>();
  const startup = (async () => {
    if (storage) await untilMigrated(storage, config.clickhouse.retention, abort.signal);
    for (const [name, role] of roles) {
      if (abort.signal.aborted) return;
      await role.start();
      running.add(name);
      log.debug({ role: name }, 'role started');
    }
    started = !abort.signal.aborted;
  })();

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      abort.abort();
      if (pinger) clearInterval(pinger);
      if (!started) {
        // Stopped while starting (a dependency still down): closing the bus ends its retry loops.
        await bus.close();
        await Promise.race([startup.catch(() => undefined), sleep(5_000)]);
      }
      // Producers first, then let consumers store what is on the bus (up to bus.drainTimeout), then consumers.
      const order: RoleName[] = ['collector', 'rules', 'query-api', 'notifier', 'ingest'];
      const drainUntil = Date.now() + config.bus.drainTimeout;
      let drained = true;
      for (const name of order) {
        const role = roles.get(name);
        if (!role || !running.has(name)) continue;
        try {
          if (bus instanceof LogBus && drained && (name === 'notifier' || name === 'ingest')) drained = await bus.drained(Math.max(0, drainUntil - Date.now()));
          await role.stop();
        } catch (err) {
          log.error({ role: name, err: (err as Error).message }, 'role did not stop cleanly');
        }
      }
      if (bus instanceof LogBus) {
        const left = bus.pending();
        if (left > 0) log.warn({ records: left, drainTimeoutMs: config.bus.drainTimeout }, 'stopped before every record on the local log was processed; they stay on disk and are processed at the next start');
        else log.info('every record on the local log was processed');
      }
      await app.close();
      await bus.close();
      await storage?.close();
      await telemetry.shutdown();
      unlock();
    })());

  return { app, url: address, bus, storage, roles, health, started: startup, stop };
}
