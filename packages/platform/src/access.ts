import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifySchema } from 'fastify';

/**
 * Access by token scope, for every API on every Vigil HTTP server: `read` (stored data),
 * `write` (sending, silencing, reloading), `ingest` (the intake). Each route declares its scope in
 * its config (`{ config: { scope: 'read' } }`); one hook checks it. A route that declares none is
 * refused, so a route added without thought is closed, not open.
 */

export const SCOPES = ['read', 'write', 'ingest'] as const;
export type Scope = (typeof SCOPES)[number];
/** What a route declares: a scope, or `public` (only /health, /health/live and /metrics). */
export type RouteScope = Scope | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route, checked by the access hook (`installAccessControl`); a route without it is refused. */
    scope?: RouteScope;
  }
}

/** One configured token: `http.tokens[]` entries, and `http.token` (every scope). */
export interface ApiTokenConfig {
  name: string;
  token: string;
  scopes: readonly Scope[];
}

interface KnownToken {
  readonly name: string;
  readonly digest: Buffer;
  readonly scopes: ReadonlySet<Scope>;
}

/** The tokens a server accepts, kept as digests only. */
export interface AccessPolicy {
  readonly tokens: readonly KnownToken[];
}

/** The name `http.token` goes by in messages and logs. */
export const MAIN_TOKEN_NAME = 'http.token';

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** The policy of `http.token` (every scope) and `http.tokens` (their scopes). No token at all: reads and ingest open, writes refused. */
export function accessPolicy(http: { token?: string | undefined; tokens?: readonly ApiTokenConfig[] | undefined }): AccessPolicy {
  const tokens: KnownToken[] = [];
  if (http.token) tokens.push({ name: MAIN_TOKEN_NAME, digest: digest(http.token), scopes: new Set(SCOPES) });
  for (const t of http.tokens ?? []) tokens.push({ name: t.name, digest: digest(t.token), scopes: new Set(t.scopes) });
  return { tokens };
}

/** The configured tokens by name and scopes, for a start log (never the secrets). */
export function describeTokens(policy: AccessPolicy): { name: string; scopes: Scope[] }[] {
  return policy.tokens.map((t) => ({ name: t.name, scopes: SCOPES.filter((s) => t.scopes.has(s)) }));
}

/**
 * The token named by `Authorization: Bearer <secret>`, compared in constant time: both sides are
 * hashed to the same length and every configured token is compared, whichever matches.
 */
function tokenOf(policy: AccessPolicy, secret: string): KnownToken | undefined {
  const presented = digest(secret);
  let found: KnownToken | undefined;
  for (const t of policy.tokens) if (timingSafeEqual(t.digest, presented) && !found) found = t;
  return found;
}

const BEARER = /^Bearer +(\S+) *$/i;

export interface RouteRequest {
  method: string;
  /** The route's pattern (`/api/v1/silences/:id`), never the URL as sent. */
  url: string;
  /** The scope the route declares; undefined when it declares none. */
  scope: RouteScope | undefined;
  /** False when no route matched (the answer will be 404). */
  found: boolean;
}

export type AccessVerdict =
  | { allow: true; token?: string }
  | { allow: false; status: 401 | 403; error: 'unauthorized' | 'forbidden'; message: string };

const HOW = 'send it as "Authorization: Bearer <token>"';

/** Whether a request may reach its route: pure, so every case is tested without a server. */
export function decideAccess(policy: AccessPolicy, route: RouteRequest, authorization: string | undefined): AccessVerdict {
  const what = `${route.method} ${route.url}`;
  if (route.found && route.scope === 'public') return { allow: true };
  if (route.found && route.scope === undefined) {
    return {
      allow: false,
      status: 403,
      error: 'forbidden',
      message: `${what} declares no access scope, so it is refused (a Vigil bug: the route must declare config.scope read, write, ingest or public)`,
    };
  }
  const scope = route.found ? (route.scope as Scope) : undefined;
  if (policy.tokens.length === 0) {
    // Secure default without tokens (the server binds 127.0.0.1 by default): reads and ingest open, nothing sent or changed.
    if (scope !== 'write') return { allow: true };
    return {
      allow: false,
      status: 403,
      error: 'forbidden',
      message: `${what} needs a token with the write scope and none is configured: set VIGIL_API_TOKEN (http.token), or an http.tokens entry with scopes [write], and ${HOW}`,
    };
  }
  const needs = scope ? `${what} needs a token with the ${scope} scope` : 'this server needs a token';
  const m = BEARER.exec(authorization ?? '');
  if (!m) {
    const sent = authorization === undefined ? 'no Authorization header was sent' : 'the Authorization header is not "Bearer <token>"';
    return { allow: false, status: 401, error: 'unauthorized', message: `${needs}: ${sent}; ${HOW} (http.token or an http.tokens entry)` };
  }
  const token = tokenOf(policy, m[1]!);
  if (!token) {
    return { allow: false, status: 401, error: 'unauthorized', message: `${needs}: the token sent is neither http.token nor one of http.tokens; ${HOW} with a configured token` };
  }
  if (scope && !token.scopes.has(scope)) {
    const has = SCOPES.filter((s) => token.scopes.has(s)).join(', ');
    return {
      allow: false,
      status: 403,
      error: 'forbidden',
      message: `${needs}; token "${token.name}" has ${has}: add ${scope} to its scopes in http.tokens, or use a token that has it`,
    };
  }
  return { allow: true, token: token.name };
}

/** A route as registered, with the scope it declares: what the auth matrix test walks. */
export interface DeclaredRoute {
  method: string;
  url: string;
  scope: RouteScope | undefined;
  /** The route's JSON schemas, as declared: what `/openapi.json` is generated from. */
  schema?: FastifySchema;
}

interface AccessControl {
  policy: AccessPolicy;
  routes: DeclaredRoute[];
}

const CONTROL = 'vigilAccessControl';

/**
 * The one access hook, on a server before any route is added (`createHttpServer` does it; a
 * plugin's own server does it too). Every route registered afterwards, in any plugin, is checked.
 */
export function installAccessControl(app: FastifyInstance, policy: AccessPolicy): void {
  if (app.hasDecorator(CONTROL)) throw new Error('installAccessControl: this server already has its access hook');
  const control: AccessControl = { policy, routes: [] };
  app.decorate(CONTROL, control);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) control.routes.push({ method, url: r.url, scope: r.config?.scope, ...(r.schema ? { schema: r.schema } : {}) });
  });
  app.addHook('onRequest', async (req, reply) => {
    const verdict = decideAccess(
      policy,
      { method: req.method, url: req.routeOptions.url ?? '', scope: req.routeOptions.config?.scope, found: !req.is404 },
      req.headers.authorization,
    );
    if (verdict.allow) return;
    if (verdict.status === 401) void reply.header('www-authenticate', 'Bearer realm="vigil"');
    return reply.code(verdict.status).send({ error: verdict.error, message: verdict.message });
  });
}

function controlOf(app: FastifyInstance): AccessControl | undefined {
  return app.hasDecorator(CONTROL) ? ((app as unknown as Record<string, AccessControl>)[CONTROL] ?? undefined) : undefined;
}

/** Throws unless `app` has the access hook: an API is never served from a server without it. */
export function requireAccessControl(app: FastifyInstance, what: string): void {
  if (!controlOf(app)) throw new Error(`${what}: the HTTP server has no access hook (create it with createHttpServer, or call installAccessControl before adding routes)`);
}

/** Every route registered on `app` since its access hook was installed, HEAD routes included. */
export function declaredRoutes(app: FastifyInstance): readonly DeclaredRoute[] {
  const control = controlOf(app);
  if (!control) throw new Error('declaredRoutes: the HTTP server has no access hook');
  return control.routes;
}
