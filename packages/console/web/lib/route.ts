/**
 * The console's pages live in the URL's hash (`#/host/web-1?range=24h`), so the server serves one
 * page at `/` and a reload or a shared link opens the same view. Pure.
 */

export type Page = 'overview' | 'host' | 'events' | 'alerts' | 'entities' | 'deliveries';

export interface Route {
  page: Page;
  /** The host page's host. */
  arg?: string;
  params: Record<string, string>;
}

const PAGES: readonly Page[] = ['overview', 'host', 'events', 'alerts', 'entities', 'deliveries'];

export function parseRoute(hash: string): Route {
  const h = hash.replace(/^#\/?/, '');
  const [path = '', query = ''] = h.split('?', 2);
  const [first = '', ...rest] = path.split('/').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  const params = Object.fromEntries(new URLSearchParams(query));
  const page = (PAGES as readonly string[]).includes(first) ? (first as Page) : 'overview';
  const arg = rest.join('/');
  return { page, ...(page === 'host' && arg ? { arg } : {}), params };
}

export function formatRoute(r: Route): string {
  const path = r.page === 'overview' ? '' : r.page + (r.arg ? `/${encodeURIComponent(r.arg)}` : '');
  const q = new URLSearchParams(Object.entries(r.params).filter(([, v]) => v !== '')).toString();
  return `#/${path}${q ? `?${q}` : ''}`;
}
