import { Type, type Static } from '@sinclair/typebox';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ConfigError } from './config/load.js';
import type { Logger } from './log.js';

/**
 * One error vocabulary for every HTTP API of Vigil (query, notifier, rules, the
 * Alertmanager-compatible API): a JSON body `{ error, message }` whose `error` is one of
 *
 *   invalid_parameter  400  a parameter or body field that cannot be used; the message starts with
 *                           its name (`since`, `matchers[0]`), then the value and what is allowed
 *   not_found          404  what the path names does not exist
 *   bad_request        4xx  anything else the request got wrong (a body that is not JSON, ...)
 *   unavailable        503  a dependency (ClickHouse, a provider) failed; retry
 *   internal           500  a bug; the logs have the details
 *
 * and one formatter of schema (ajv) errors, `describeSchemaError`, so every API says
 * `limit: 5000 must be <= 1000` the same way. An API may add codes of its own for what only it
 * does (the query API's `query_refused`).
 */

export const ApiErrorBody = Type.Object({
  error: Type.String({ description: 'invalid_parameter, not_found, bad_request, unavailable or internal (and an API\'s own, e.g. query_refused)' }),
  message: Type.String(),
});
export type ApiErrorBody = Static<typeof ApiErrorBody>;

/** The error responses every route declares. */
export const apiErrorResponses = { 400: ApiErrorBody, 404: ApiErrorBody, 500: ApiErrorBody, 503: ApiErrorBody } as const;

/** A request parameter or body field that cannot be used: 400 `invalid_parameter`, the message starting with its name. */
export class ParameterError extends Error {
  override readonly name: string = 'ParameterError';
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(`${parameter}: ${message}`);
  }
}

/** What the path names does not exist: 404 `not_found`. */
export class NotFoundError extends Error {
  override readonly name: string = 'NotFoundError';
}

/** A dependency failed; the cause is logged, never sent (it can carry SQL or a provider's URL): 503 `unavailable`. */
export class UnavailableError extends Error {
  override readonly name: string = 'UnavailableError';
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

type PartSchema = { properties?: Record<string, { description?: string }> };

/** `/matchers/0/name` → `matchers[0].name`. */
function fieldName(instancePath: string): string {
  return instancePath
    .split('/')
    .filter((p) => p !== '')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((out, p) => (/^\d+$/.test(p) ? `${out}[${p}]` : out === '' ? p : `${out}.${p}`), '');
}

function valueAt(values: unknown, instancePath: string): unknown {
  let v = values;
  for (const p of instancePath.split('/').filter((x) => x !== '')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[p.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return v;
}

/**
 * One sentence naming the parameter or field, the value and what is allowed, from fastify's
 * (ajv's) first validation error of a request part (query string, body or path parameters), e.g.
 * `limit: 5000 must be <= 1000`, `agg: "p99" is not allowed (use avg, max)`, `name: is required
 * (the metric name)`, `matchers[0]: unknown field "foo"`.
 */
export function describeSchemaError(e: SchemaError, values: unknown, schema: PartSchema | undefined): string {
  const at = fieldName(e.instancePath);
  const join = (name: string) => (at === '' ? name : `${at}.${name}`);
  if (e.keyword === 'required') {
    const name = String(e.params.missingProperty);
    const hint = at === '' ? schema?.properties?.[name]?.description : undefined;
    return `${join(name)}: is required${hint ? ` (${hint})` : ''}`;
  }
  if (e.keyword === 'additionalProperties') return `${join(String(e.params.additionalProperty))}: unknown field (not one this route takes)`;
  const value = valueAt(values, e.instancePath);
  const shown = value === undefined ? '' : `${JSON.stringify(value)} `;
  const name = at === '' ? 'body' : at;
  if (e.keyword === 'enum') {
    const allowed = (e.params.allowedValues as unknown[] | undefined)?.join(', ') ?? '';
    return `${name}: ${shown}is not allowed (use ${allowed})`;
  }
  return `${name}: ${shown}${e.message ?? 'is invalid'}`;
}

export interface ApiErrorOptions {
  log: Logger;
  /** Names the API in logs, e.g. `query API`. */
  api: string;
  /** Errors only this API knows (the query API's refused SQL): a status and a body, or undefined for the shared handling. */
  own?: (err: Error, req: FastifyRequest) => { status: number; body: ApiErrorBody } | undefined;
  /** What a caller reads for an unexpected error: `internal` 500 by default; an API whose failures are its dependencies' may say `unavailable` 503. */
  unexpected?: { status: number; body: ApiErrorBody };
}

/** The error handler of an API's plugin scope, speaking the shared vocabulary. */
export function answerApiError(opts: ApiErrorOptions) {
  return (err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) => {
    const send = (status: number, body: ApiErrorBody) => reply.code(status).send(body);
    const own = opts.own?.(err, req);
    if (own) return send(own.status, own.body);
    if (err instanceof ParameterError) return send(400, { error: 'invalid_parameter', message: err.message });
    if (err instanceof ConfigError) return send(400, { error: 'invalid_parameter', message: err.problems.join('; ') });
    if (err instanceof NotFoundError) return send(404, { error: 'not_found', message: err.message });
    const validation = (err as FastifyError).validation as SchemaError[] | undefined;
    if (validation && validation[0]) {
      const where = ((err as FastifyError).validationContext ?? 'querystring') as 'querystring' | 'body' | 'params' | 'headers';
      const schema = req.routeOptions.schema?.[where] as PartSchema | undefined;
      const values = where === 'body' ? req.body : where === 'params' ? req.params : where === 'headers' ? req.headers : req.query;
      return send(400, { error: 'invalid_parameter', message: describeSchemaError(validation[0], values ?? {}, schema) });
    }
    if (err instanceof UnavailableError) {
      opts.log.warn({ route: req.routeOptions.url, err: (err.cause as Error | undefined)?.message ?? err.message }, err.message);
      return send(503, { error: 'unavailable', message: `${err.message}; retry (the ${opts.api} logs say why)` });
    }
    const status = (err as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) return send(status, { error: 'bad_request', message: err.message });
    opts.log.error({ route: req.routeOptions.url, err: err.message }, `${opts.api} route failed`);
    return send(opts.unexpected?.status ?? 500, opts.unexpected?.body ?? { error: 'internal', message: `unexpected error while answering; see the ${opts.api} logs` });
  };
}
