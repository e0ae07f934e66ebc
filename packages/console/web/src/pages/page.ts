import type { Route } from '../../lib/route.js';

/** What a page gets besides its element: a timer that lives as long as the page is shown. */
export interface PageContext {
  /** Runs `f` after `ms`, once; a new render sets the next one. Cleared when the user leaves the page. */
  every(ms: number, f: () => Promise<void> | void): void;
  navigate(hash: string): void;
}

export interface Page {
  title: string;
  render(main: HTMLElement, route: Route, ctx: PageContext): Promise<void>;
}
