import type { FastifyError } from 'fastify';
import { ApiErrorBody, answerApiError, UnavailableError, type Logger } from '@vigil/platform';

/**
 * The query API's errors, in the vocabulary every Vigil API speaks (`@vigil/platform`
 * api-errors.ts: invalid_parameter, not_found, bad_request, unavailable, internal), plus its own
 * `query_refused` for an analyst's SQL the engine refused.
 */

export { ApiErrorBody as ErrorBody, describeSchemaError } from '@vigil/platform';

/** The error responses every route declares. */
export const errorResponses = { 400: ApiErrorBody, 500: ApiErrorBody, 503: ApiErrorBody } as const;

/** ClickHouse failed; the cause is logged, never sent (its text can carry SQL): 503 `unavailable`. */
export class StorageUnavailableError extends UnavailableError {
  override readonly name = 'StorageUnavailableError';
  constructor(
    readonly what: string,
    cause: unknown,
  ) {
    super(`ClickHouse could not answer the ${what} query; check /health`, cause);
  }
}

/** The engine refused or failed an analyst's SQL (POST /sql): their query, so the reason is theirs to read; answered 400 query_refused. */
export class QueryRefusedError extends Error {
  override readonly name = 'QueryRefusedError';
}

/** The error handler of the query API's plugin scope. */
export function answerError(log: Logger) {
  return answerApiError({
    log,
    api: 'query-api',
    own: (err: FastifyError | Error) => (err instanceof QueryRefusedError ? { status: 400, body: { error: 'query_refused', message: err.message } } : undefined),
  });
}
