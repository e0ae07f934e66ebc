import type { Storage } from '@vigil/platform';

/** What every route group of the query API is given. */
export interface RouteOptions {
  storage: Storage;
  /** Unix milliseconds; injected so tests and defaults agree on "now". */
  now: () => number;
}
