import { createHttpServer, createTelemetry, HealthRegistry } from '@vigil/platform';

/**
 * A loopback server that answers the issue endpoints the channel uses as GitHub's REST API does
 * (api.github.com, version 2022-11-28): it checks the headers, validates bodies, keeps issues,
 * comments and labels in memory, paginates with Link headers, and answers errors with GitHub's
 * bodies and rate-limit headers. For tests only.
 */

export interface FakeIssue {
  number: number;
  title: string;
  body: string;
  state: 'open' | 'closed';
  state_reason: string | null;
  labels: string[];
  created_at: string;
  comments: { id: number; body: string; created_at: string }[];
}

export interface FakeRequest {
  method: string;
  url: string;
  body: unknown;
}

export interface ScriptedReply {
  /** Which request it answers (the next one when absent). */
  when?: (method: string, url: string) => boolean;
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

const DOCS = 'https://docs.github.com/rest';

export interface FakeGithub {
  url: string;
  issues: Map<number, FakeIssue>;
  requests: FakeRequest[];
  /** Answers the next matching requests with these, in order, before any check. */
  script: ScriptedReply[];
  /** Drops labels from new issues, as GitHub does for tokens without push access. */
  dropLabels: boolean;
  /** Forgets every issue, request and scripted reply; numbering starts again at 1. */
  reset(): void;
  close(): Promise<void>;
}

export async function startFakeGithub(opts: { token: string; repo: string; now: () => number; commentsPerPage?: number }): Promise<FakeGithub> {
  const app = createHttpServer(new HealthRegistry(), createTelemetry('fake-github'));
  // GitHub's own token check is below; Vigil's access hook lets these routes through.
  const github = { config: { scope: 'public' } } as const;
  const issues = new Map<number, FakeIssue>();
  let nextNumber = 1;
  let nextComment = 1000;
  const iso = () => new Date(opts.now()).toISOString();
  const base = `/repos/${opts.repo}`;
  let origin = '';

  const fake: FakeGithub = {
    url: '',
    issues,
    requests: [],
    script: [],
    dropLabels: false,
    reset() {
      issues.clear();
      fake.requests.length = 0;
      fake.script.length = 0;
      fake.dropLabels = false;
      nextNumber = 1;
    },
    close: () => app.close(),
  };

  const error = (status: number, message: string, errors?: unknown[]) => ({ status, body: { message, documentation_url: DOCS, ...(errors ? { errors } : {}), status: String(status) } });

  const issueJson = (i: FakeIssue) => ({
    url: `${origin}${base}/issues/${i.number}`,
    html_url: `https://github.com/${opts.repo}/issues/${i.number}`,
    number: i.number,
    title: i.title,
    body: i.body,
    state: i.state,
    state_reason: i.state_reason,
    labels: i.labels.map((name, id) => ({ id, name, color: 'ededed' })),
    comments: i.comments.length,
    created_at: i.created_at,
    updated_at: i.created_at,
  });

  app.addHook('onRequest', async (req, reply) => {
    fake.requests.push({ method: req.method, url: req.url, body: undefined });
    const at = fake.script.findIndex((r) => r.when === undefined || r.when(req.method, req.url));
    const scripted = at < 0 ? undefined : fake.script.splice(at, 1)[0];
    if (scripted) return reply.code(scripted.status).headers(scripted.headers ?? {}).send(scripted.body);
    const h = req.headers;
    if (!h['user-agent']) return reply.code(403).send({ message: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header', documentation_url: DOCS });
    if (h.authorization !== `Bearer ${opts.token}`) return reply.code(401).send(error(401, 'Bad credentials').body);
    if (h.accept !== 'application/vnd.github+json') return reply.code(415).send(error(415, `Unsupported Accept: ${h.accept}`).body);
    if (h['x-github-api-version'] !== '2022-11-28') return reply.code(400).send(error(400, `Unsupported 'X-GitHub-Api-Version' header '${h['x-github-api-version']}'`).body);
    if (!req.url.startsWith(`${base}/`)) return reply.code(404).send(error(404, 'Not Found').body);
    if ((req.method === 'POST' || req.method === 'PATCH') && h['content-type'] !== 'application/json') {
      return reply.code(415).send(error(415, `Unsupported media type ${h['content-type']}`).body);
    }
    reply.header('x-ratelimit-limit', '5000').header('x-ratelimit-remaining', '4999').header('x-ratelimit-resource', 'core');
    return undefined;
  });
  app.addHook('preHandler', async (req) => {
    fake.requests[fake.requests.length - 1]!.body = req.body;
  });

  const send = (reply: { code(n: number): { send(b: unknown): unknown } }, r: { status: number; body: unknown }) => reply.code(r.status).send(r.body);

  app.get(`${base}/issues`, github, async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const state = q.state ?? 'open';
    if (!['open', 'closed', 'all'].includes(state)) return send(reply, error(422, 'Validation Failed', [{ resource: 'Issue', field: 'state', code: 'invalid' }]));
    const wanted = (q.labels ?? '').split(',').map((l) => l.trim().toLowerCase()).filter(Boolean);
    const perPage = Math.min(100, Number(q.per_page ?? 30));
    const list = [...issues.values()]
      .filter((i) => state === 'all' || i.state === state)
      .filter((i) => wanted.every((w) => i.labels.some((l) => l.toLowerCase() === w)))
      .sort((a, b) => (q.direction === 'asc' ? a.number - b.number : b.number - a.number))
      .slice(0, perPage);
    return list.map(issueJson);
  });

  app.post(`${base}/issues`, github, async (req, reply) => {
    const b = (req.body ?? {}) as { title?: unknown; body?: unknown; labels?: unknown };
    if (typeof b.title !== 'string' || b.title === '') return send(reply, error(422, 'Validation Failed', [{ resource: 'Issue', code: 'missing_field', field: 'title' }]));
    if (b.title.length > 256) return send(reply, error(422, 'Validation Failed', [{ resource: 'Issue', code: 'custom', field: 'title', message: 'title is too long (maximum is 256 characters)' }]));
    if (typeof b.body === 'string' && b.body.length > 65_536) return send(reply, error(422, 'Validation Failed', [{ resource: 'Issue', code: 'custom', field: 'body', message: 'body is too long (maximum is 65536 characters)' }]));
    const labels = Array.isArray(b.labels) ? (b.labels as unknown[]).map(String) : [];
    const bad = labels.find((l) => l.length > 50);
    if (bad) return send(reply, error(422, 'Validation Failed', [{ resource: 'Label', code: 'invalid', field: 'name', value: bad }]));
    const issue: FakeIssue = {
      number: nextNumber++,
      title: b.title,
      body: typeof b.body === 'string' ? b.body : '',
      state: 'open',
      state_reason: null,
      labels: fake.dropLabels ? [] : [...new Set(labels)],
      created_at: iso(),
      comments: [],
    };
    issues.set(issue.number, issue);
    return reply.code(201).header('location', `${origin}${base}/issues/${issue.number}`).send(issueJson(issue));
  });

  const find = (req: { params: unknown }) => issues.get(Number((req.params as { n: string }).n));

  app.patch(`${base}/issues/:n`, github, async (req, reply) => {
    const issue = find(req);
    if (!issue) return send(reply, error(404, 'Not Found'));
    const b = (req.body ?? {}) as { state?: unknown; state_reason?: unknown };
    if (b.state !== undefined && b.state !== 'open' && b.state !== 'closed') return send(reply, error(422, 'Validation Failed', [{ resource: 'Issue', field: 'state', code: 'invalid' }]));
    if (b.state_reason !== undefined && b.state_reason !== null && !['completed', 'not_planned', 'reopened', 'duplicate'].includes(String(b.state_reason))) {
      return send(reply, error(422, 'Validation Failed', [{ resource: 'Issue', field: 'state_reason', code: 'invalid' }]));
    }
    if (b.state !== undefined) issue.state = b.state;
    if (b.state_reason !== undefined) issue.state_reason = b.state_reason as string | null;
    return issueJson(issue);
  });

  app.post(`${base}/issues/:n/comments`, github, async (req, reply) => {
    const issue = find(req);
    if (!issue) return send(reply, error(404, 'Not Found'));
    const b = (req.body ?? {}) as { body?: unknown };
    if (typeof b.body !== 'string' || b.body === '') return send(reply, error(422, 'Validation Failed', [{ resource: 'IssueComment', code: 'missing_field', field: 'body' }]));
    const c = { id: nextComment++, body: b.body, created_at: iso() };
    issue.comments.push(c);
    return reply.code(201).send(c);
  });

  app.get(`${base}/issues/:n/comments`, github, async (req, reply) => {
    const issue = find(req);
    if (!issue) return send(reply, error(404, 'Not Found'));
    const q = req.query as Record<string, string | undefined>;
    const perPage = Math.min(opts.commentsPerPage ?? 100, Number(q.per_page ?? 30));
    const page = Math.max(1, Number(q.page ?? 1));
    const last = Math.max(1, Math.ceil(issue.comments.length / perPage));
    if (last > 1) {
      const link = (p: number, rel: string) => `<${origin}${base}/issues/${issue.number}/comments?per_page=${perPage}&page=${p}>; rel="${rel}"`;
      const rels = [];
      if (page < last) rels.push(link(page + 1, 'next'), link(last, 'last'));
      if (page > 1) rels.push(link(1, 'first'), link(page - 1, 'prev'));
      reply.header('link', rels.join(', '));
    }
    return issue.comments.slice((page - 1) * perPage, page * perPage);
  });

  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address() as { port: number };
  origin = `http://127.0.0.1:${addr.port}`;
  fake.url = origin;
  return fake;
}
