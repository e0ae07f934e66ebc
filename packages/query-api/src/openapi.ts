import type { DeclaredRoute } from '@vigil/platform';

/**
 * The OpenAPI 3.1 document of a server, generated from the JSON schemas its routes declare (the
 * one source of validation, serialisation and documentation) and the access scope each declares.
 * Pure: the routes come in as the access hook recorded them (`declaredRoutes`).
 */

type JsonSchema = Record<string, unknown>;

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: OpenApiInfo;
  components: { securitySchemes: Record<string, unknown> };
  paths: Record<string, Record<string, unknown>>;
}

/** `/api/v1/clients/:id/lifecycle` → `/api/v1/clients/{id}/lifecycle`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** TypeBox marks its schemas with symbols and `Kind`; JSON only keeps what JSON Schema says. */
function plain(schema: unknown): JsonSchema {
  return JSON.parse(JSON.stringify(schema)) as JsonSchema;
}

function parameters(where: 'query' | 'path', schema: unknown): unknown[] {
  if (!schema || typeof schema !== 'object') return [];
  const s = plain(schema);
  const properties = (s.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((s.required as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, p]) => {
    const { description, ...rest } = p;
    return {
      name,
      in: where,
      // A query parameter with a default is never missing (fastify fills it in).
      required: where === 'path' || (required.has(name) && rest.default === undefined),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

const SCOPE_TEXT: Record<string, string> = {
  read: 'Needs a token with the read scope once any token is configured.',
  write: 'Needs a token with the write scope (refused while no token is configured).',
  ingest: 'Needs a token with the ingest scope once any token is configured.',
  public: 'Open without a token.',
};

function operation(r: DeclaredRoute): Record<string, unknown> {
  const schema = (r.schema ?? {}) as Record<string, unknown>;
  const responses: Record<string, unknown> = {};
  for (const [code, body] of Object.entries((schema.response ?? {}) as Record<string, unknown>)) {
    responses[code] = { description: code.startsWith('2') ? 'OK' : 'error', content: { 'application/json': { schema: plain(body) } } };
  }
  if (Object.keys(responses).length === 0) responses['200'] = { description: 'OK' };
  if (r.scope && r.scope !== 'public') {
    responses['401'] ??= { description: 'no token, or a wrong one (once any token is configured)' };
    responses['403'] ??= { description: `a token without the ${r.scope} scope` };
  }
  const consumes = (schema.consumes as string[] | undefined) ?? ['application/json'];
  return {
    ...(schema.summary ? { summary: schema.summary } : {}),
    description: [schema.description, SCOPE_TEXT[r.scope ?? '']].filter(Boolean).join(' '),
    ...(schema.tags ? { tags: schema.tags } : {}),
    'x-vigil-scope': r.scope ?? 'none',
    parameters: [...parameters('path', schema.params), ...parameters('query', schema.querystring)],
    ...(schema.body ? { requestBody: { required: true, content: Object.fromEntries(consumes.map((c) => [c, { schema: plain(schema.body) }])) } } : {}),
    responses,
    security: r.scope === 'public' ? [] : [{ bearer: [] }],
  };
}

/** One document for every route but HEAD twins and those marked `hide: true` in their schema. */
export function openApiDocument(routes: readonly DeclaredRoute[], info: OpenApiInfo): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  const sorted = [...routes].sort((a, b) => (a.url === b.url ? a.method.localeCompare(b.method) : a.url < b.url ? -1 : 1));
  for (const r of sorted) {
    if (r.method === 'HEAD' || (r.schema as { hide?: boolean } | undefined)?.hide) continue;
    const path = openApiPath(r.url);
    (paths[path] ??= {})[r.method.toLowerCase()] = operation(r);
  }
  return {
    openapi: '3.1.0',
    info,
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a Vigil API token (http.token or an http.tokens entry)' } } },
    paths,
  };
}

declare module 'fastify' {
  interface FastifySchema {
    /** What the route answers, for /openapi.json. */
    description?: string;
    summary?: string;
    tags?: string[];
    /** Left out of /openapi.json. */
    hide?: boolean;
  }
}
