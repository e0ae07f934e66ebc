import type { Storage } from '@vigil/platform';
import { StorageUnavailableError } from './errors.js';

/**
 * Rows of a `{name:Type}`-parameterised query; any ClickHouse failure becomes a
 * StorageUnavailableError (answered 503) labelled with what was being read.
 */
export async function readRows<T>(storage: Storage, what: string, query: string, params: Record<string, unknown>): Promise<T[]> {
  try {
    const rs = await storage.client.query({ query, query_params: params, format: 'JSONEachRow' });
    return await rs.json<T>();
  } catch (err) {
    throw new StorageUnavailableError(what, err);
  }
}

/**
 * A ClickHouse JSON number: a server quotes 64-bit integers (output_format_json_quote_64bit_integers)
 * while chDB does not, and non-finite floats arrive as null.
 */
export type ChNumber = number | string | null;

export function toNumber(v: ChNumber): number {
  return v === null ? Number.NaN : Number(v);
}

export function toFiniteOrNull(v: ChNumber): number | null {
  const n = toNumber(v);
  return Number.isFinite(n) ? n : null;
}

/** RFC 3339 (UTC, milliseconds) of Unix milliseconds from ClickHouse. */
export function isoFromMs(v: ChNumber): string {
  return new Date(toNumber(v)).toISOString();
}
