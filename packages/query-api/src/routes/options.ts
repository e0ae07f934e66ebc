import type { HealthRegistry, Storage } from '@vigil/platform';

/** What every route group of the query API is given. */
export interface RouteOptions {
  storage: Storage;
  /** Unix milliseconds; injected so tests and defaults agree on "now". */
  now: () => number;
  /** The process's dependencies, for the health summary; absent when the API runs on its own. */
  health?: HealthRegistry;
}
