/**
 * Calls to Vigil's API from the page. The token, when the user gives one, is kept in this
 * browser tab's session storage only and sent as `Authorization: Bearer`.
 */

const KEY = 'vigil.token';

export function token(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setToken(t: string | null): void {
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let onAuth: (e: ApiError) => void = () => undefined;
/** Called when the API asks for a token (401) or refuses one (403). */
export function onAuthProblem(f: (e: ApiError) => void): void {
  onAuth = f;
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  const t = token();
  if (t) headers.set('authorization', `Bearer ${t}`);
  if (init.body) headers.set('content-type', 'application/json');
  const res = await fetch(path, { ...init, headers });
  const body = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
  if (!res.ok) {
    const e = new ApiError(res.status, body.error ?? 'error', body.message ?? `HTTP ${res.status}`);
    if (res.status === 401 || res.status === 403) onAuth(e);
    throw e;
  }
  return body as T;
}
