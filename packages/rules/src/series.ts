import type { ResourceInfo } from '@vigil/platform';

/**
 * Series and what the ingest path learns about each. A series is the points of one metric from one
 * resource with one set of point attributes. Its `id` (what the kinds keep to tell series apart in
 * a group: counters, duplicates) follows the resource's attribute values, not the decoded object,
 * which is new in every request. What the engine works out at a series' first point (which inputs'
 * matchers pass, the group each input feeds) is kept in its route's `slots`, so its later points
 * skip matching, key building and group lookups. Pure, with `now` passed in.
 *
 * The routes are a cache: one unseen for `retainMs` is dropped and rebuilt the same from its next
 * point. Only its resource's number, part of the id, could change then, so `retainMs` must exceed
 * the longest window (a series away that long has nothing left in any window).
 */

export interface SeriesRoute<T> {
  /** Identity of the series within a group: its resource's number and its point attributes. */
  readonly id: string;
  readonly name: string;
  /** The point attributes, keys and values in the order the producer wrote them. */
  readonly keys: readonly string[];
  readonly values: readonly string[];
  /** One per input of the series' metric; undefined: not worked out yet. */
  readonly slots: (T | undefined)[];
  seenAt: number;
}

export interface ResourceSeries<T> {
  readonly text: string;
  readonly number: number;
  /** By metric name, then by the point attributes' text. */
  readonly routes: Map<string, Map<string, SeriesRoute<T>>>;
  /**
   * The routes of its last request, by position: a producer sends its series in the same order
   * each time, so the route at a point's position is usually its own (checked, not assumed).
   */
  order: SeriesRoute<T>[];
  /** Attribute key lists of its routes, shared (series of a metric mostly have the same keys). */
  keySets: Map<string, readonly string[]>;
  seenAt: number;
  dropped: boolean;
}

/** The attribute values of a resource in the order the producer wrote them (one producer writes one resource the same way each time). */
function resourceText(r: ResourceInfo): string {
  let s = '';
  for (const k in r.attributes) s += `\u0001${k}=${r.attributes[k]}`;
  return s;
}

/** Resource numbers are unique in the process, so an engine that takes over another's never reuses one. */
let nextNumber = 0;

export class SeriesRoutes<T> {
  private readonly byText = new Map<string, ResourceSeries<T>>();
  /** The decoded object of a request, to its resource: the attributes are read once per request. */
  private readonly byObject = new WeakMap<ResourceInfo, ResourceSeries<T>>();
  private sweptAt = -Infinity;

  constructor(readonly retainMs: number) {}

  /** The series of a resource, known or new. */
  resource(r: ResourceInfo, now: number): ResourceSeries<T> {
    let rs = this.byObject.get(r);
    if (rs === undefined || rs.dropped) {
      const text = resourceText(r);
      rs = this.byText.get(text);
      if (rs === undefined) {
        rs = { text, number: nextNumber++, routes: new Map(), order: [], keySets: new Map(), seenAt: now, dropped: false };
        this.byText.set(text, rs);
      }
      this.byObject.set(r, rs);
    }
    rs.seenAt = now;
    return rs;
  }

  /**
   * The route of a series of `rs` (metric `name`, point attributes `attrs`), with `slots` empty
   * slots when new. `position`: the point's place among the resource's points in its request.
   */
  route(rs: ResourceSeries<T>, name: string, attrs: Record<string, string>, slots: number, now: number, position = -1): SeriesRoute<T> {
    const guess = position >= 0 ? rs.order[position] : undefined;
    if (guess !== undefined && guess.name === name && sameAttributes(guess, attrs)) {
      guess.seenAt = now;
      return guess;
    }
    let points = '';
    for (const k in attrs) points += `\u0001${k}=${attrs[k]}`;
    let byPoints = rs.routes.get(name);
    if (byPoints === undefined) rs.routes.set(name, (byPoints = new Map()));
    let route = byPoints.get(points);
    if (route === undefined) {
      const list = Object.keys(attrs);
      const joined = list.join('\u0001');
      let keys = rs.keySets.get(joined);
      if (keys === undefined) rs.keySets.set(joined, (keys = list));
      route = { id: `${rs.number}${points}`, name, keys, values: list.map((k) => attrs[k]!), slots: new Array<T | undefined>(slots).fill(undefined), seenAt: now };
      byPoints.set(points, route);
    }
    route.seenAt = now;
    if (position >= 0) rs.order[position] = route;
    return route;
  }

  /** Drops routes and resources unseen for `retainMs`; does the walk at most every quarter of it. */
  sweep(now: number): void {
    if (now - this.sweptAt < this.retainMs / 4) return;
    this.sweptAt = now;
    const before = now - this.retainMs;
    for (const [text, rs] of this.byText) {
      // Routes dropped below must not come back through the order of the last request.
      rs.order = [];
      if (rs.seenAt < before) {
        rs.dropped = true;
        this.byText.delete(text);
        continue;
      }
      for (const [name, byPoints] of rs.routes) {
        for (const [key, route] of byPoints) if (route.seenAt < before) byPoints.delete(key);
        if (byPoints.size === 0) rs.routes.delete(name);
      }
    }
  }

  /** Takes over another table's resource numbers (a rule reload), so the series of groups kept keep their ids. */
  adoptNumbers(previous: SeriesRoutes<unknown>): void {
    for (const [text, rs] of previous.byText) {
      if (!this.byText.has(text)) this.byText.set(text, { text, number: rs.number, routes: new Map(), order: [], keySets: new Map(), seenAt: rs.seenAt, dropped: false });
    }
  }

  get size(): number {
    let n = 0;
    for (const rs of this.byText.values()) for (const byPoints of rs.routes.values()) n += byPoints.size;
    return n;
  }
}

/** Whether `attrs` holds exactly the route's attributes, in its order. */
function sameAttributes(route: SeriesRoute<unknown>, attrs: Record<string, string>): boolean {
  let i = 0;
  for (const k in attrs) {
    if (route.keys[i] !== k || route.values[i] !== attrs[k]) return false;
    i++;
  }
  return i === route.keys.length;
}
