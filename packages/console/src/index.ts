import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The web console's files, served by the query API: `GET /` (index.html) and `GET /assets/*`
 * (hashed JavaScript and CSS, cached for a year). They are public: the page and its code carry
 * no data; every number it shows comes from the API, which asks the token (kept in the
 * browser's session storage) once tokens are configured. Files are read once at start and kept
 * gzipped in memory.
 */

export const DIST_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

export interface StaticFile {
  type: string;
  body: Buffer;
  gzip: Buffer;
}

/** Every file under dist/, by its URL path (`/index.html`, `/assets/index-3f2a.js`). */
export function loadDist(dir: string = DIST_DIR): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(join(dir, 'index.html'))) return files;
  const walk = (sub: string) => {
    for (const e of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${e.name}` : e.name;
      if (e.isDirectory()) walk(rel);
      else {
        const body = readFileSync(join(dir, rel));
        files.set(`/${rel}`, { type: TYPES[extname(e.name)] ?? 'application/octet-stream', body, gzip: gzipSync(body, { level: 9 }) });
      }
    }
  };
  walk('');
  return files;
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Vigil</title>
<p>The web console is not built. Run <code>pnpm install</code> in Vigil's directory (it builds the console), or
<code>pnpm --filter @vigil/console build</code>, then restart. The API answers meanwhile: <a href="/openapi.json">/openapi.json</a>.</p>`;

export interface ConsoleOptions {
  /** Where the built console is; default this package's dist/. */
  dir?: string;
}

function send(req: FastifyRequest, reply: FastifyReply, f: StaticFile, cache: string) {
  void reply.header('content-type', f.type).header('cache-control', cache).header('vary', 'accept-encoding').header('x-content-type-options', 'nosniff');
  if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) return reply.header('content-encoding', 'gzip').send(f.gzip);
  return reply.send(f.body);
}

export const consoleRoutes: FastifyPluginAsync<ConsoleOptions> = async (app, opts) => {
  const files = loadDist(opts.dir);
  const open = { scope: 'public' } as const;
  app.get('/', { config: open }, async (req, reply) => {
    const index = files.get('/index.html');
    if (!index) return reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT);
    // A page that cannot be framed by another site, loading nothing but this server.
    void reply.header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
    return send(req, reply, index, 'no-cache');
  });
  app.get<{ Params: { '*': string } }>('/assets/*', { config: open }, async (req, reply) => {
    const f = files.get(`/assets/${req.params['*']}`);
    if (!f) return reply.code(404).send({ error: 'not_found', message: `no console asset ${req.params['*']} (the console was rebuilt? reload the page)` });
    return send(req, reply, f, 'public, max-age=31536000, immutable');
  });
};
