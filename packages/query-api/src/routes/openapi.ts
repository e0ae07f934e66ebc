import type { FastifyPluginAsync } from 'fastify';
import { VIGIL_VERSION, declaredRoutes } from '@vigil/platform';
import { openApiDocument, type OpenApiDocument } from '../openapi.js';

/**
 * GET /openapi.json (public): the OpenAPI 3.1 document of every route on this server, generated
 * at the first request from the schemas and scopes the routes declare. It describes the API and
 * carries no data, so it answers without a token.
 */
export const openApiRoutes: FastifyPluginAsync = async (app) => {
  let doc: OpenApiDocument | undefined;
  app.get(
    '/openapi.json',
    { config: { scope: 'public' }, schema: { hide: true } },
    async () =>
      (doc ??= openApiDocument(declaredRoutes(app), {
        title: 'Vigil',
        version: VIGIL_VERSION,
        description: "Vigil's HTTP API: the query API, the notifier's API, the intake, health and metrics. Send tokens as Authorization: Bearer <token>.",
      })),
  );
};
