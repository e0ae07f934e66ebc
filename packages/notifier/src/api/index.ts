import { createHash, randomUUID } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { answerApiError, logger, NotFoundError, requireAccessControl, type AlertSeverity, type AlertTransition, type createHttpServer } from '@vigil/platform';
import type { AlertNotification, NotificationChannel } from '../model.js';
import type { ChannelResult } from '../pipeline/deliver.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../pipeline/retry.js';
import { kindsForLevel } from '../channels/registry.js';
import type { SilenceState } from '../routing/silences.js';
import { notificationOf } from '../templates/view.js';
import type { NotifierServices } from '../role.js';
import { BadRequest, checkLimit, silenceTimes, sinceStart } from './parameters.js';
import { MatcherError } from '../routing/matchers.js';
import { PostedAlertError } from './alertmanager-model.js';

/**
 * The notifier's HTTP API on the process's server, one encapsulated plugin under /api/v1, every
 * route with a schema and an access scope (checked by the server's access hook; tokens as
 * `Authorization: Bearer <token>`):
 *
 *   POST   /api/v1/notify                write  send a message now (per-channel result)
 *   POST   /api/v1/notify/test/:channel  write  a test message to one channel (a name or a kind)
 *   POST   /api/v1/notify/preview        read   what each channel would send, without sending
 *   GET    /api/v1/deliveries            read   the delivery ledger (status, attempts, last error)
 *   GET    /api/v1/silences              read   silences with their state
 *   POST   /api/v1/silences              write  create (or replace, same id) a silence
 *   DELETE /api/v1/silences/:id          write  expire a silence
 */

type HttpServer = ReturnType<typeof createHttpServer>;

export interface NotifierApiOptions {
  /** Retries of API sends: short, the caller is waiting. */
  retry?: Partial<RetryPolicy>;
  now?: () => number;
}

const log = logger('notifier.api');
const MAX_DELIVERIES = 1000;
const API_RETRY: RetryPolicy = { ...DEFAULT_RETRY_POLICY, maxAttempts: 3, baseDelayMs: 250, maxDelayMs: 2_000, budgetMs: 10_000 };

const ErrorBody = Type.Object({ error: Type.String(), message: Type.String() });
const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 503: ErrorBody };

const Level = Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')], { description: 'info, warning or critical' });

const NotifyBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 500, description: 'one line: what happened' }),
    message: Type.String({ default: '', maxLength: 20_000, description: 'the details' }),
    level: Type.Optional(Level),
    channels: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'channel kinds (email, sms, slack, ...) or names (ops/slack[0]); default: by level, as alerts without a route' })),
    recipients: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'email addresses or phone numbers replacing the configured ones' })),
    labels: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'extra labels (host.name, service.name, ...)' })),
  },
  { additionalProperties: false },
);
type NotifyBody = Static<typeof NotifyBody>;

const ChannelResultSchema = Type.Object({
  channel: Type.String(),
  kind: Type.String(),
  outcome: Type.String({ description: 'sent, failed or skipped' }),
  attempts: Type.Optional(Type.Integer()),
  error: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String()),
  providerId: Type.Optional(Type.String()),
  fallback: Type.Optional(Type.String()),
});

const NotifyReply = Type.Object({ key: Type.String(), ok: Type.Boolean({ description: 'every channel sent (or already had it)' }), results: Type.Array(ChannelResultSchema) });

const PreviewReply = Type.Object({
  previews: Type.Array(
    Type.Object({
      channel: Type.String(),
      kind: Type.String(),
      title: Type.Optional(Type.String()),
      text: Type.Optional(Type.String()),
      html: Type.Optional(Type.String()),
      json: Type.Optional(Type.Unknown()),
    }),
  ),
});

const DeliveriesQuery = Type.Object(
  {
    status: Type.Optional(Type.Union([Type.Literal('sent'), Type.Literal('failed')], { description: 'sent or failed' })),
    channel: Type.Optional(Type.String({ description: 'a channel name' })),
    receiver: Type.Optional(Type.String({ description: 'a receiver name' })),
    since: Type.String({ default: '24h', pattern: '^\\d+(ms|s|m|h|d|w)$', description: 'how far back, e.g. 1h, 7d' }),
    limit: Type.Integer({ minimum: 1, maximum: MAX_DELIVERIES, default: 100, description: '1 to 1000' }),
  },
  { additionalProperties: false },
);
type DeliveriesQuery = Static<typeof DeliveriesQuery>;

const Delivery = Type.Object({
  key: Type.String(),
  channel: Type.String(),
  kind: Type.String(),
  receiver: Type.String(),
  groupKey: Type.String(),
  status: Type.String(),
  severity: Type.String(),
  rule: Type.String(),
  alerts: Type.Integer(),
  attempts: Type.Integer(),
  lastError: Type.String(),
  providerId: Type.String(),
  time: Type.String(),
});

const SilenceBody = Type.Object(
  {
    id: Type.Optional(Type.String({ minLength: 1, description: 'replace the silence with this id' })),
    matchers: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Alertmanager matchers: name="v", name!="v", name=~"re", name!~"re"' }),
    startsAt: Type.Optional(Type.String({ description: 'RFC 3339; default now' })),
    endsAt: Type.Optional(Type.String({ description: 'RFC 3339; or give duration' })),
    duration: Type.Optional(Type.String({ pattern: '^\\d+(ms|s|m|h|d|w)$', description: 'how long from startsAt, e.g. 2h (instead of endsAt)' })),
    comment: Type.String({ default: '', description: 'why' }),
    createdBy: Type.String({ default: '', description: 'who' }),
  },
  { additionalProperties: false },
);
type SilenceBody = Static<typeof SilenceBody>;

const SilenceItem = Type.Object({
  id: Type.String(),
  matchers: Type.Array(Type.String()),
  startsAt: Type.String(),
  endsAt: Type.String(),
  comment: Type.String(),
  createdBy: Type.String(),
  updatedAt: Type.String(),
  state: Type.String({ description: 'pending, active or expired' }),
});

class NotFound extends NotFoundError {}

/**
 * The error handler of the notifier's APIs, in the vocabulary every Vigil API speaks
 * (`@vigil/platform` api-errors.ts): its own checks (times, durations, matchers, channels) are
 * 400 `invalid_parameter` with the field first; a failure of ClickHouse, a provider or the bus
 * is 503 `unavailable`.
 */
export function notifierApiErrors(api: string) {
  return answerApiError({
    log,
    api,
    own: (err) => (err instanceof BadRequest || err instanceof MatcherError || err instanceof PostedAlertError ? { status: 400, body: { error: 'invalid_parameter', message: err.message } } : undefined),
    unexpected: { status: 503, body: { error: 'unavailable', message: `the ${api} could not answer (ClickHouse, a provider or the bus failed); see the notifier logs and retry` } },
  });
}

const read = { scope: 'read' } as const;
const write = { scope: 'write' } as const;

/** Every distinct configured channel, by name (a channel in several receivers once). */
function allChannels(s: NotifierServices): NotificationChannel[] {
  const byName = new Map<string, NotificationChannel>();
  for (const r of s.setup.receivers.values()) for (const c of r.channels) if (!byName.has(c.name)) byName.set(c.name, c);
  return [...byName.values()];
}

/** `channels` entries are kinds or names; none given means the level's default kinds. */
function pickChannels(s: NotifierServices, wanted: string[] | undefined, level: AlertSeverity): NotificationChannel[] {
  const all = allChannels(s);
  if (!wanted) return all.filter((c) => (kindsForLevel(level) as string[]).includes(c.kind));
  const out = new Map<string, NotificationChannel>();
  const unknown: string[] = [];
  for (const w of wanted) {
    const hit = all.filter((c) => c.name === w || c.kind === w);
    if (hit.length === 0) unknown.push(w);
    for (const c of hit) out.set(c.name, c);
  }
  if (unknown.length > 0) {
    const names = all.map((c) => c.name);
    throw new BadRequest(`channels: ${unknown.map((u) => `"${u}"`).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not configured (configured: ${names.length > 0 ? names.join(', ') : 'none'}; a kind such as slack picks every channel of that kind)`);
  }
  return [...out.values()];
}

/** Channels by the receiver that configures them (a channel outside any receiver goes under `api`). */
function byReceiver(s: NotifierServices, channels: readonly NotificationChannel[]): Map<string, NotificationChannel[]> {
  const out = new Map<string, NotificationChannel[]>();
  for (const c of channels) {
    const name = s.setup.owners.get(c.name)?.name ?? 'api';
    const list = out.get(name) ?? [];
    list.push(c);
    out.set(name, list);
  }
  return out;
}

function messageAlert(body: NotifyBody, level: AlertSeverity, now: number): AlertTransition {
  const labels: Record<string, string> = { alertname: body.title, source: 'api', ...(body.labels ?? {}) };
  const fingerprint = createHash('sha256').update(JSON.stringify([body.title, labels])).digest('hex').slice(0, 16);
  return {
    fingerprint,
    status: 'firing',
    severity: level,
    labels,
    annotations: { summary: body.title, ...(body.message ? { description: body.message } : {}) },
    startsAt: new Date(now).toISOString(),
    value: 0,
    rule: 'api',
    window: 0,
  };
}

function resultBody(r: ChannelResult): Static<typeof ChannelResultSchema> {
  return r as Static<typeof ChannelResultSchema>;
}

export function registerNotifierApi(app: HttpServer, services: NotifierServices, opts: NotifierApiOptions = {}): void {
  const now = opts.now ?? Date.now;
  const retry: RetryPolicy = { ...API_RETRY, ...opts.retry };
  requireAccessControl(app, 'the notifier API');
  void app.register(
    async (api) => {
      api.setErrorHandler(notifierApiErrors('notifier API'));

      api.post<{ Body: NotifyBody }>('/notify', { config: write, schema: { body: NotifyBody, response: { 200: NotifyReply, ...errors } } }, async (req) => {
        const level = req.body.level ?? 'info';
        const channels = pickChannels(services, req.body.channels, level);
        if (channels.length === 0) throw new BadRequest(`no channel is configured for level ${level} (configure receivers, or name channels)`);
        const t = now();
        const idem = req.headers['idempotency-key'];
        const key = `api:${typeof idem === 'string' && idem !== '' ? idem : randomUUID()}`;
        // One notification per configured receiver the channels belong to, named after it (as a
        // webhook's `receiver` field says), with the group key format of rule alerts.
        const results: ChannelResult[] = [];
        for (const [receiver, own] of byReceiver(services, channels)) {
          const n: AlertNotification = {
            ...notificationOf([messageAlert(req.body, level, t)], { receiver, createdAt: new Date(t).toISOString(), key }),
            ...(req.body.recipients ? { recipients: req.body.recipients } : {}),
            ...(services.setup.settings.externalUrl ? { externalUrl: services.setup.settings.externalUrl } : {}),
          };
          results.push(...(await services.deliverer.deliverChannels(n, own, new Set([receiver]), retry, true)));
        }
        return { key, ok: results.every((r) => r.outcome === 'sent' || (r.outcome === 'skipped' && r.reason === 'duplicate')), results: results.map(resultBody) };
      });

      api.post<{ Params: { channel: string } }>(
        '/notify/test/:channel',
        { config: write, schema: { params: Type.Object({ channel: Type.String({ minLength: 1, description: 'a channel name (ops/slack[0]) or a kind (slack)' }) }), response: { 200: NotifyReply, ...errors } } },
        async (req) => {
          const channels = pickChannels(services, [req.params.channel], 'info');
          const t = now();
          const key = `test:${randomUUID()}`;
          const alert = messageAlert({ title: 'Vigil test notification', message: `A test message from Vigil to ${req.params.channel}; nothing is wrong.`, labels: { test: 'true' } }, 'info', t);
          const n = notificationOf([alert], { receiver: 'test', createdAt: new Date(t).toISOString(), key });
          const results = await services.deliverer.deliverChannels(n, channels, new Set(['test']), retry);
          return { key, ok: results.every((r) => r.outcome === 'sent'), results: results.map(resultBody) };
        },
      );

      api.post<{ Body: NotifyBody }>('/notify/preview', { config: read, schema: { body: NotifyBody, response: { 200: PreviewReply, ...errors } } }, async (req) => {
        const level = req.body.level ?? 'info';
        const channels = pickChannels(services, req.body.channels, level);
        const t = now();
        const n = notificationOf([messageAlert(req.body, level, t)], { receiver: 'preview', createdAt: new Date(t).toISOString() });
        if (req.body.recipients) n.recipients = req.body.recipients;
        return { previews: channels.map((c) => ({ channel: c.name, kind: c.kind, ...c.render(n) })) };
      });

      api.get<{ Querystring: DeliveriesQuery }>('/deliveries', { config: read, schema: { querystring: DeliveriesQuery, response: { 200: Type.Object({ deliveries: Type.Array(Delivery) }), ...errors } } }, async (req) => {
        const q = req.query;
        const since = sinceStart(q.since, now());
        const deliveries = await services.ledger.list({
          since,
          limit: checkLimit(q.limit, MAX_DELIVERIES),
          ...(q.status ? { status: q.status } : {}),
          ...(q.channel ? { channel: q.channel } : {}),
          ...(q.receiver ? { receiver: q.receiver } : {}),
        });
        return { deliveries };
      });

      const States = Type.Object(
        { state: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('active'), Type.Literal('expired')], { description: 'pending, active or expired' })) },
        { additionalProperties: false },
      );
      api.get<{ Querystring: { state?: SilenceState } }>('/silences', { config: read, schema: { querystring: States, response: { 200: Type.Object({ silences: Type.Array(SilenceItem) }), ...errors } } }, async (req) => {
        return { silences: services.routing.silences.list(now(), req.query.state ? [req.query.state] : undefined) };
      });

      api.post<{ Body: SilenceBody }>('/silences', { config: write, schema: { body: SilenceBody, response: { 200: Type.Object({ silence: SilenceItem }), ...errors } } }, async (req) => {
        const b = req.body;
        const t = now();
        const { startsAt, endsAt } = silenceTimes(b, t);
        const silence = services.routing.silences.add(
          { ...(b.id ? { id: b.id } : {}), matchers: b.matchers, startsAt, endsAt, comment: b.comment, createdBy: b.createdBy },
          t,
          'body',
        );
        await services.silenceStore.save(silence);
        return { silence: services.routing.silences.get(silence.id, t)! };
      });

      api.delete<{ Params: { id: string } }>(
        '/silences/:id',
        { config: write, schema: { params: Type.Object({ id: Type.String({ minLength: 1 }) }), response: { 200: Type.Object({ silence: SilenceItem }), ...errors } } },
        async (req) => {
          const t = now();
          const existing = services.routing.silences.get(req.params.id, t);
          if (!existing) throw new NotFound(`no silence has id "${req.params.id}" (GET /api/v1/silences lists them)`);
          services.routing.silences.expire(req.params.id, t);
          const expired = services.routing.silences.get(req.params.id, t)!;
          await services.silenceStore.save(expired);
          return { silence: expired };
        },
      );
    },
    { prefix: '/api/v1' },
  );
}
