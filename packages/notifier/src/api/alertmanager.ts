import { Type, type Static } from '@sinclair/typebox';
import { NotFoundError, requireAccessControl, VIGIL_VERSION, type createHttpServer } from '@vigil/platform';
import type { NotifierServices } from '../role.js';
import { parseMatcher } from '../routing/matchers.js';
import { alertFilter, apiMatcher, gettableAlert, gettableSilence, matcherText, checkPostable, type GettableAlert, type PostableAlert } from './alertmanager-model.js';
import { notifierApiErrors } from './index.js';
import { silenceTimes } from './parameters.js';

/**
 * Alertmanager's HTTP API version 2, the part its clients use, on the notifier's server under
 * /api/v2, so that Prometheus can send its alerts to Vigil as to an Alertmanager, and `amtool`
 * and Grafana's Alertmanager data source can read Vigil's alerts and manage its silences:
 *
 *   POST   /api/v2/alerts          ingest  Prometheus's alerts (postableAlerts): routed, silenced, paged and stored like rule alerts
 *   GET    /api/v2/alerts          read    firing alerts (active, silenced, inhibited, filter, receiver as Alertmanager)
 *   GET    /api/v2/alerts/groups   read    the same, by notification group
 *   GET    /api/v2/silences        read    silences (filter)
 *   POST   /api/v2/silences        write   create, or replace by id; answers { silenceID }
 *   GET    /api/v2/silence/:id     read    one silence
 *   DELETE /api/v2/silence/:id     write   expire it
 *   GET    /api/v2/receivers       read    the receivers' names
 *   GET    /api/v2/status          read    version and uptime (no cluster: state is shared through Kafka)
 *
 * Label names are Prometheus-safe (`host.name` reads `host_name`) and `severity` is a label. Tokens
 * are Vigil's (`Authorization: Bearer`, amtool's `--http.config.file`, Prometheus's
 * `alerting.alertmanagers[].authorization`); without tokens reads and posted alerts are open on the
 * loopback default, silences need a write token.
 */

type HttpServer = ReturnType<typeof createHttpServer>;

const LabelSet = Type.Record(Type.String(), Type.String());

const PostableAlerts = Type.Array(
  Type.Object({
    labels: LabelSet,
    annotations: Type.Optional(LabelSet),
    startsAt: Type.Optional(Type.String()),
    endsAt: Type.Optional(Type.String()),
    generatorURL: Type.Optional(Type.String()),
  }),
  { maxItems: 10_000 },
);

const ApiMatcher = Type.Object({
  name: Type.String({ minLength: 1 }),
  value: Type.String(),
  isRegex: Type.Boolean(),
  isEqual: Type.Optional(Type.Boolean({ default: true })),
});

const PostableSilence = Type.Object({
  id: Type.Optional(Type.String()),
  matchers: Type.Array(ApiMatcher, { minItems: 1 }),
  startsAt: Type.String(),
  endsAt: Type.String(),
  createdBy: Type.String(),
  comment: Type.String(),
});
type PostableSilence = Static<typeof PostableSilence>;

const Flag = (description: string) => Type.Boolean({ default: true, description });
const AlertsQuery = Type.Object({
  active: Flag('show active alerts'),
  silenced: Flag('show silenced alerts'),
  inhibited: Flag('show inhibited alerts'),
  unprocessed: Flag('show unprocessed alerts (Vigil has none: every alert is processed when taken)'),
  filter: Type.Array(Type.String(), { default: [], description: 'matchers the labels must match, e.g. alertname="cpu_high"' }),
  receiver: Type.Optional(Type.String({ description: 'a regex one of the alert\'s receivers must match' })),
});
type AlertsQuery = Static<typeof AlertsQuery>;

const SilencesQuery = Type.Object({ filter: Type.Array(Type.String(), { default: [] }) });

const read = { scope: 'read' } as const;
const write = { scope: 'write' } as const;
const ingest = { scope: 'ingest' } as const;

class NotFound extends NotFoundError {}

export interface AlertmanagerApiOptions {
  now?: () => number;
  /** When the process started, for /status's uptime. */
  startedAt?: number;
}

export function registerAlertmanagerApi(app: HttpServer, services: NotifierServices, opts: AlertmanagerApiOptions = {}): void {
  const now = opts.now ?? Date.now;
  const startedAt = new Date(opts.startedAt ?? now()).toISOString();
  const resolveTimeoutMs = services.setup.settings.resolveTimeout;
  requireAccessControl(app, 'the Alertmanager-compatible API');

  const alertsNow = (q: AlertsQuery): GettableAlert[] => {
    const t = now();
    const keep = alertFilter(q);
    return services.dispatcher
      .view(t)
      .map((v) => {
        const expiresAt = services.posted.expiresAt(v.alert.fingerprint);
        return gettableAlert(v, { resolveTimeoutMs, ...(expiresAt !== undefined ? { expiresAt } : {}) });
      })
      .filter(keep);
  };

  void app.register(
    async (api) => {
      api.setErrorHandler(notifierApiErrors('Alertmanager-compatible API'));

      api.post<{ Body: PostableAlert[] }>('/alerts', { config: ingest, bodyLimit: 8 * 1024 * 1024, schema: { body: PostableAlerts } }, async (req, reply) => {
        req.body.forEach(checkPostable);
        const transitions = services.posted.take(req.body, now());
        await services.publish(transitions);
        return reply.code(200).send();
      });

      api.get<{ Querystring: AlertsQuery }>('/alerts', { config: read, schema: { querystring: AlertsQuery } }, async (req) => alertsNow(req.query));

      api.get<{ Querystring: AlertsQuery }>('/alerts/groups', { config: read, schema: { querystring: AlertsQuery } }, async (req) => {
        const byFp = new Map(alertsNow(req.query).map((a) => [a.fingerprint, a]));
        return services.dispatcher
          .groupsView()
          .map((g) => ({ labels: g.labels, receiver: { name: g.receiver }, alerts: g.fingerprints.flatMap((fp) => byFp.get(fp) ?? []) }))
          .filter((g) => g.alerts.length > 0);
      });

      api.get<{ Querystring: { filter: string[] } }>('/silences', { config: read, schema: { querystring: SilencesQuery } }, async (req) => {
        // As Alertmanager: the filter's matchers are tried on each silence's matchers read as labels (name → value).
        const filter = req.query.filter.map((f) => parseMatcher(f));
        return services.routing.silences
          .list(now())
          .filter((s) => {
            const labels = Object.fromEntries(s.matchers.map((m) => apiMatcher(m)).map((m) => [m.name, m.value]));
            return filter.every((m) => m.matches(labels));
          })
          .map(gettableSilence);
      });

      api.post<{ Body: PostableSilence }>('/silences', { config: write, schema: { body: PostableSilence } }, async (req) => {
        const b = req.body;
        const t = now();
        const { startsAt, endsAt } = silenceTimes({ startsAt: b.startsAt, endsAt: b.endsAt }, t);
        if (b.id && !services.routing.silences.get(b.id, t)) throw new NotFound(`no silence has id "${b.id}" (leave id out to create one)`);
        const silence = services.routing.silences.add(
          { ...(b.id ? { id: b.id } : {}), matchers: b.matchers.map((m) => matcherText(m)), startsAt, endsAt, comment: b.comment, createdBy: b.createdBy },
          t,
          'silence',
        );
        await services.silenceStore.save(silence);
        return { silenceID: silence.id };
      });

      api.get<{ Params: { id: string } }>('/silence/:id', { config: read, schema: { params: Type.Object({ id: Type.String({ minLength: 1 }) }) } }, async (req) => {
        const s = services.routing.silences.get(req.params.id, now());
        if (!s) throw new NotFound(`no silence has id "${req.params.id}"`);
        return gettableSilence(s);
      });

      api.delete<{ Params: { id: string } }>('/silence/:id', { config: write, schema: { params: Type.Object({ id: Type.String({ minLength: 1 }) }) } }, async (req, reply) => {
        const t = now();
        if (!services.routing.silences.get(req.params.id, t)) throw new NotFound(`no silence has id "${req.params.id}"`);
        services.routing.silences.expire(req.params.id, t);
        await services.silenceStore.save(services.routing.silences.get(req.params.id, t)!);
        return reply.code(200).send();
      });

      api.get('/receivers', { config: read }, async () => [...services.setup.receivers.keys()].sort().map((name) => ({ name })));

      api.get('/status', { config: read }, async () => ({
        cluster: { status: 'disabled', peers: [] },
        config: { original: '# Vigil: the notifier section of the Vigil config routes alerts; see GET /api/v1/silences and the config file\n' },
        uptime: startedAt,
        versionInfo: { version: VIGIL_VERSION, revision: '', branch: '', buildUser: 'vigil', buildDate: '', goVersion: `node ${process.version}` },
      }));
    },
    { prefix: '/api/v2' },
  );
}
