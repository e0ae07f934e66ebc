import { Type } from '@sinclair/typebox';
import { ApiErrorBody, answerApiError, logger, type createHttpServer } from '@vigil/platform';
import type { RulesRole } from './role.js';

/**
 * The rules API on the process's server, one encapsulated plugin under /api/v1, each route
 * declaring its access scope (checked by the platform's access hook) and its schemas:
 *
 *   GET  /api/v1/rules          every rule: health, last evaluation and its duration, the state of each group;
 *                               the sources with their watermarks; the last reload     (scope read)
 *   POST /api/v1/rules/reload   load the rules again; a bad set is refused whole, the running one stays (scope write)
 */

const log = logger('rules.api');
const Labels = Type.Record(Type.String(), Type.String());

const Group = Type.Object({
  labels: Labels,
  fingerprint: Type.Optional(Type.String()),
  state: Type.String({ description: 'inactive, pending, firing, nodata or flapping' }),
  severity: Type.Optional(Type.String()),
  value: Type.Optional(Type.Number()),
  activeSince: Type.Optional(Type.String()),
  startsAt: Type.Optional(Type.String()),
  lastEvaluation: Type.Optional(Type.String({ description: 'event time of the end of the last window evaluated' })),
});

const Rule = Type.Object({
  name: Type.String(),
  kind: Type.String(),
  origin: Type.String({ description: 'where it is defined: file and index' }),
  health: Type.String({ description: 'ok, err (a sql rule whose query failed) or unknown (not run yet)' }),
  lastError: Type.Optional(Type.String()),
  lastEvaluation: Type.Optional(Type.String()),
  evaluations: Type.Integer(),
  evaluationMs: Type.Number({ description: 'processing time spent evaluating it since start' }),
  groups: Type.Array(Group),
});

const Source = Type.Object({
  id: Type.String(),
  partition: Type.Integer(),
  watermark: Type.Optional(Type.String()),
  lastSeenMsAgo: Type.Number(),
  state: Type.String({ description: 'live, stalled (late) or silent (absent)' }),
});

const Reload = Type.Object({
  ok: Type.Boolean(),
  at: Type.String(),
  rules: Type.Integer(),
  problems: Type.Optional(Type.Array(Type.String())),
});

const RulesReply = Type.Object({
  rules: Type.Array(Rule),
  sources: Type.Array(Source),
  sqlOwner: Type.Boolean({ description: 'this worker runs the sql rules (it consumes the tick topic)' }),
  lastReload: Type.Optional(Reload),
});

export interface RulesApiOptions {
  now?: () => number;
}

type HttpServer = ReturnType<typeof createHttpServer>;

export function registerRulesApi(app: HttpServer, role: RulesRole, opts: RulesApiOptions = {}): void {
  const now = opts.now ?? Date.now;
  void app.register(
    async (api) => {
      // The error vocabulary every Vigil API speaks (invalid_parameter, not_found, unavailable, internal).
      api.setErrorHandler(answerApiError({ log, api: 'rules API' }));
      api.get('/rules', { config: { scope: 'read' }, schema: { response: { 200: RulesReply, 500: ApiErrorBody } } }, async () => {
        const engine = role.engine;
        const sql = new Map(role.sql.status().map((s) => [s.name, s]));
        const rules = [
          ...engine.status().map((r) => ({ ...r, health: r.evaluations > 0 ? 'ok' : 'unknown' })),
          ...engine.sql.map((c) => {
            const s = sql.get(c.rule.name);
            return {
              name: c.rule.name,
              kind: 'sql',
              origin: c.origin,
              health: s?.health ?? 'unknown',
              ...(s?.lastError ? { lastError: s.lastError } : {}),
              ...(s?.lastEvaluation ? { lastEvaluation: s.lastEvaluation } : {}),
              evaluations: s?.lastEvaluation ? 1 : 0,
              evaluationMs: s?.evaluationMs ?? 0,
              groups: s?.groups ?? [],
            };
          }),
        ];
        const last = role.lastReload();
        return { rules, sources: engine.sourceStatus(now()), sqlOwner: role.sql.owner(), ...(last ? { lastReload: last } : {}) };
      });

      api.post('/rules/reload', { config: { scope: 'write' }, schema: { response: { 200: Reload, 422: Reload, 500: ApiErrorBody } } }, async (_req, reply) => {
        const r = await role.reload('POST /api/v1/rules/reload');
        return reply.code(r.ok ? 200 : 422).send(r);
      });
    },
    { prefix: '/api/v1' },
  );
}
