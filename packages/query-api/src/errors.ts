import { Type, type Static } from '@sinclair/typebox';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '@vigil/platform';
import { ParameterError } from './parameters.js';

export const ErrorBody = Type.Object({
  error: Type.String({ description: 'invalid_parameter, query_refused, storage_unavailable or internal' }),
  message: Type.String(),
});
export type ErrorBody = Static<typeof ErrorBody>;

/** The error responses every route declares. */
export const errorResponses = { 400: ErrorBody, 500: ErrorBody, 503: ErrorBody } as const;

/** ClickHouse failed; the cause is logged, never sent (its text can carry SQL). */
export class StorageUnavailableError extends Error {
  override readonly name = 'StorageUnavailableError';
  constructor(
    readonly what: string,
    override readonly cause: unknown,
  ) {
    super(`ClickHouse could not answer the ${what} query`);
  }
}

/** The engine refused or failed an analyst's SQL (POST /sql): their query, so the reason is theirs to read; answered 400 query_refused. */
export class QueryRefusedError extends Error {
  override readonly name = 'QueryRefusedError';
}

interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

type ParameterSchema = { properties?: Record<string, { description?: string }> };

/**
 * One sentence naming the parameter, the value and what is allowed, from fastify's (ajv's)
 * first validation error, e.g. `limit: "5000" must be <= 1000`.
 */
export function describeSchemaError(e: SchemaError, query: Record<string, unknown>, schema: ParameterSchema | undefined): string {
  if (e.keyword === 'required') {
    const name = String(e.params.missingProperty);
    const hint = schema?.properties?.[name]?.description;
    return `${name}: is required${hint ? ` (${hint})` : ''}`;
  }
  const name = e.instancePath.replace(/^\//, '').split('/')[0] ?? '';
  const value = query[name];
  const shown = value === undefined ? '' : `${JSON.stringify(value)} `;
  if (e.keyword === 'enum') {
    const allowed = (e.params.allowedValues as unknown[] | undefined)?.join(', ') ?? '';
    return `${name}: ${shown}is not allowed (use ${allowed})`;
  }
  return `${name}: ${shown}${e.message ?? 'is invalid'}`;
}

/** The error handler of the query API's plugin scope: 400 for bad input, 503 for storage, 500 otherwise. */
export function answerError(log: Logger) {
  return (err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) => {
    const send = (code: number, body: ErrorBody) => reply.code(code).send(body);
    if (err instanceof ParameterError) return send(400, { error: 'invalid_parameter', message: err.message });
    if (err instanceof QueryRefusedError) return send(400, { error: 'query_refused', message: err.message });
    const validation = (err as FastifyError).validation as SchemaError[] | undefined;
    if (validation && validation[0]) {
      // The part of the request that failed: the query string, the body or the path parameters.
      const where = ((err as FastifyError).validationContext ?? 'querystring') as 'querystring' | 'body' | 'params';
      const schema = req.routeOptions.schema?.[where] as ParameterSchema | undefined;
      const values = (where === 'body' ? req.body : where === 'params' ? req.params : req.query) ?? {};
      return send(400, { error: 'invalid_parameter', message: describeSchemaError(validation[0], (typeof values === 'object' ? values : {}) as Record<string, unknown>, schema) });
    }
    if (err instanceof StorageUnavailableError) {
      log.warn({ route: req.routeOptions.url, err: (err.cause as Error)?.message ?? String(err.cause) }, err.message);
      return send(503, { error: 'storage_unavailable', message: `${err.message}; check /health and the query-api logs, then retry` });
    }
    const status = (err as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) return send(status, { error: 'bad_request', message: err.message });
    log.error({ route: req.routeOptions.url, err: err.message }, 'query API route failed');
    return send(500, { error: 'internal', message: 'unexpected error while answering the query; see the query-api logs' });
  };
}
