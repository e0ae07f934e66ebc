import { readFileSync } from 'node:fs';
import { ValueType, type Attributes, type BatchObservableResult } from '@opentelemetry/api';
import { Type, type StaticDecode } from '@sinclair/typebox';
import { ConfigError, Duration, logger } from '@vigil/platform';
import { definePlugin, type PluginContext } from '../../plugin.js';
import { databaseUrlProblem, httpCheck, mysqlCheck, postgresCheck, redisCheck, tcpCheck } from './checks.js';
import { STATE_SEVERITY, STATE_VALUE, probeKind, probeState, safeTarget, stateChanged, stateReason, type Outcome, type ProbeKind, type ProbeState } from './state.js';
import { Loops } from '../loops.js';

export * from './state.js';
export { httpCheck, tcpCheck, postgresCheck, mysqlCheck, redisCheck, type HttpCheck } from './checks.js';

const log = logger('collector.probe');

const ProbeTarget = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_.-]+$', description: 'Name of the probe, unique in this plugin (letters, digits, _ . -).' }),
    url: Type.String({
      pattern: '^(https?|tcp|postgres(ql)?|mysql|mariadb|rediss?)://',
      description: 'What to check, by scheme: http(s)://host/path, tcp://host:port, postgres://user@host:port/db and mysql://user@host:port/db (connect + SELECT 1), redis://host:port (PING). Put passwords in ${ENV} variables.',
    }),
    interval: Duration({ default: '30s', description: 'Time between two checks.' }),
    timeout: Duration({ default: '5s', description: 'A check with no answer by then is unhealthy.' }),
    degraded: Duration({ default: '500ms', description: 'Degraded from this response time.' }),
    unhealthy: Duration({ default: '1000ms', description: 'Unhealthy from this response time (and whenever the check fails).' }),
    method: Type.Union([Type.Literal('GET'), Type.Literal('HEAD'), Type.Literal('POST'), Type.Literal('OPTIONS')], { default: 'GET', description: 'HTTP method.' }),
    headers: Type.Record(Type.String(), Type.String(), { default: {}, description: 'HTTP request headers (values may use ${ENV} variables).' }),
    expectStatus: Type.Array(Type.Integer({ minimum: 100, maximum: 599 }), { default: [], description: 'HTTP statuses that count as up; empty: any 2xx or 3xx.' }),
    bodyMatch: Type.Optional(Type.String({ format: 'regex', description: 'Regular expression the HTTP body must match (first MiB).' })),
    tls: Type.Object(
      {
        ca: Type.Optional(Type.String({ description: 'PEM file of a CA to trust besides the system ones (a private CA or a self-signed certificate).' })),
        insecureSkipVerify: Type.Boolean({ default: false, description: 'Accept any certificate (its days left are still reported).' }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export const ProbeOptions = Type.Object(
  { targets: Type.Array(ProbeTarget, { minItems: 1, description: 'Endpoints to check: HTTP(S), TCP, PostgreSQL, MySQL/MariaDB, Redis.' }) },
  { additionalProperties: false },
);

export type ProbeTargetConfig = StaticDecode<typeof ProbeTarget>;

/** A target ready to check: its kind, safe label and compiled options. */
export interface PlannedProbe {
  config: ProbeTargetConfig;
  kind: ProbeKind;
  attrs: Attributes;
  check: () => Promise<Outcome>;
}

/** Checks what the schema cannot (unique names, readable CA files) and binds each target to its check. */
export function planProbes(targets: ProbeTargetConfig[], at = 'collector.plugins[].targets'): PlannedProbe[] {
  const problems: string[] = [];
  const names = new Set<string>();
  const out: PlannedProbe[] = [];
  targets.forEach((t, i) => {
    const where = `${at}[${i}]`;
    if (names.has(t.name)) problems.push(`${where}.name: "${t.name}" is used twice (give each probe its own name)`);
    names.add(t.name);
    const kind = probeKind(t.url);
    if (!kind) {
      problems.push(`${where}.url: not a URL this probe understands (use http(s)://, tcp://host:port, postgres://, mysql://, redis://)`);
      return;
    }
    if (kind === 'tcp' && new URL(t.url).port === '') problems.push(`${where}.url: a tcp:// target needs a port (tcp://host:port)`);
    const urlProblem = kind === 'postgres' || kind === 'mysql' ? databaseUrlProblem(t.url) : undefined;
    if (urlProblem) problems.push(`${where}.url: ${urlProblem}`);
    if (t.degraded > t.unhealthy) problems.push(`${where}.degraded: ${t.degraded} ms is above unhealthy (${t.unhealthy} ms)`);
    let ca: string | undefined;
    if (t.tls.ca) {
      try {
        ca = readFileSync(t.tls.ca, 'utf8');
      } catch (err) {
        problems.push(`${where}.tls.ca: cannot read "${t.tls.ca}" (${(err as Error).message})`);
      }
    }
    const bodyMatch = t.bodyMatch !== undefined ? new RegExp(t.bodyMatch) : undefined;
    const check =
      kind === 'http'
        ? () => httpCheck({ url: t.url, method: t.method, headers: t.headers, timeoutMs: t.timeout, expectStatus: t.expectStatus, bodyMatch, ca, insecureSkipVerify: t.tls.insecureSkipVerify })
        : kind === 'tcp'
          ? () => tcpCheck(t.url, t.timeout)
          : kind === 'postgres'
            ? () => postgresCheck(t.url, t.timeout)
            : kind === 'mysql'
              ? () => mysqlCheck(t.url, t.timeout)
              : () => redisCheck(t.url, t.timeout);
    out.push({ config: t, kind, attrs: { 'vigil.probe.name': t.name, 'vigil.probe.kind': kind, 'vigil.probe.target': safeTarget(t.url) }, check });
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return out;
}

interface Last {
  outcome: Outcome;
  state: ProbeState;
}

/**
 * `type: probe`: checks HTTP(S) endpoints, TCP ports, PostgreSQL and Redis on their intervals.
 * Metrics per target: vigil.probe.duration (s), vigil.probe.up (0/1), vigil.probe.state
 * (0 healthy, 1 degraded, 2 unhealthy) and vigil.probe.tls.days_left; every state change (and
 * the first state) is a `probe.state_changed` event, its severity by the new state.
 */
export const probePlugin = definePlugin({
  type: 'probe',
  description: 'Health checks of HTTP(S), TCP, PostgreSQL and Redis endpoints, with healthy/degraded/unhealthy states.',
  schema: ProbeOptions,
  check(options, at) {
    planProbes(options.targets, `${at}.targets`);
  },
  create(options, ctx: PluginContext) {
    const probes = planProbes(options.targets, `collector.plugins[${ctx.name}].targets`);
    const last = new Map<PlannedProbe, Last>();
    const loops = new Loops((err) => log.warn({ plugin: ctx.name, err: err.message }, 'probe loop failed'));

    const duration = ctx.meter.createObservableGauge('vigil.probe.duration', { unit: 's', description: 'Response time of the last check.' });
    const up = ctx.meter.createObservableGauge('vigil.probe.up', { unit: '1', description: '1 when the last check succeeded, 0 when it failed.', valueType: ValueType.INT });
    const state = ctx.meter.createObservableGauge('vigil.probe.state', { unit: '1', description: '0 healthy, 1 degraded, 2 unhealthy.', valueType: ValueType.INT });
    const tlsDays = ctx.meter.createObservableGauge('vigil.probe.tls.days_left', { unit: 'd', description: 'Days until the server certificate expires.', valueType: ValueType.INT });
    const callback = (r: BatchObservableResult) => {
      for (const [p, l] of last) {
        r.observe(duration, l.outcome.latencyMs / 1000, p.attrs);
        r.observe(up, l.outcome.error === undefined ? 1 : 0, p.attrs);
        r.observe(state, STATE_VALUE[l.state], p.attrs);
        if (l.outcome.tlsDaysLeft !== undefined) r.observe(tlsDays, l.outcome.tlsDaysLeft, p.attrs);
      }
    };

    async function runOnce(p: PlannedProbe): Promise<void> {
      const outcome = await p.check();
      const thresholds = { degradedMs: p.config.degraded, unhealthyMs: p.config.unhealthy };
      const next = probeState(outcome, thresholds);
      const prev = last.get(p)?.state;
      last.set(p, { outcome, state: next });
      if (!stateChanged(prev, next)) return;
      const reason = stateReason(outcome, thresholds);
      const attrs: Attributes = Object.assign({}, p.attrs, { 'vigil.probe.state': next, 'vigil.probe.duration_ms': Math.round(outcome.latencyMs) });
      if (prev) attrs['vigil.probe.previous_state'] = prev;
      if (outcome.error !== undefined) attrs['error.message'] = outcome.error;
      if (outcome.statusCode !== undefined) attrs['http.response.status_code'] = outcome.statusCode;
      if (outcome.tlsDaysLeft !== undefined) attrs['vigil.probe.tls.days_left'] = outcome.tlsDaysLeft;
      const body = prev ? `probe ${p.config.name}: ${prev} → ${next}: ${reason}` : `probe ${p.config.name}: ${next}: ${reason}`;
      log.info({ probe: p.config.name, target: p.attrs['vigil.probe.target'], from: prev, to: next, reason }, 'probe state changed');
      await ctx.event('probe.state_changed', body, attrs, STATE_SEVERITY[next]);
    }

    return {
      async start() {
        ctx.meter.addBatchObservableCallback(callback, [duration, up, state, tlsDays]);
        for (const p of probes) loops.every(p.config.interval, () => runOnce(p).catch((err: Error) => log.warn({ probe: p.config.name, err: err.message }, 'could not report the probe state')));
      },
      async stop() {
        await loops.stop();
        ctx.meter.removeBatchObservableCallback(callback, [duration, up, state, tlsDays]);
      },
    };
  },
});
