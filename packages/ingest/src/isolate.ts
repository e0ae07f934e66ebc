/**
 * Inserting a batch that the engine refuses because of what is in it (a value it cannot read), in
 * a way that cannot block a partition: the rows are halved until the refused ones stand alone;
 * the others are written, the refused ones are handed back for the dead-letter topic. A failure
 * retrying may fix (the engine down or overloaded) is thrown instead, and the bus retries the
 * batch with backoff.
 */

/** Engine errors that say nothing about the rows: retry the whole batch later. */
const TRANSIENT = [
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|socket hang up|Timeout error|timed? ?out/i,
  /TOO_MANY_PARTS|Too many parts|MEMORY_LIMIT_EXCEEDED|Memory limit|TOO_MANY_SIMULTANEOUS_QUERIES|Too many simultaneous/i,
  /TABLE_IS_READ_ONLY|is in readonly mode|NOT_ENOUGH_SPACE|Cannot reserve .* space|ALL_CONNECTION_TRIES_FAILED|NETWORK_ERROR|KEEPER_EXCEPTION|ABORTED/i,
  /UNKNOWN_TABLE|UNKNOWN_DATABASE|doesn't exist|does not exist/i,
  /Code: (159|164|202|209|210|241|242|243|252|285|319|425|999)\b/,
];

export function isTransientInsertError(err: unknown): boolean {
  const text = err instanceof Error ? `${err.name} ${err.message} ${(err as { code?: string }).code ?? ''}` : String(err);
  return TRANSIENT.some((re) => re.test(text));
}

export interface RefusedRow {
  /** Index of the row in the rows given. */
  index: number;
  error: string;
}

export interface IsolateOptions {
  /** Transient errors are thrown; default `isTransientInsertError`. */
  isTransient?: (err: unknown) => boolean;
  /**
   * Asked before a single row is given up: resolves true when the engine is there (the row is at
   * fault), false when it is not (then the error is thrown, to be retried). Default: true.
   */
  engineUp?: () => Promise<boolean>;
}

/**
 * Inserts `rows` with `insert(rows, part)`, where `part` is '' for the whole set and `from-to`
 * (row indexes, inclusive) for a half: the same rows and the same failure give the same parts,
 * so a replay after a crash inserts the same parts under the same deduplication tokens. Resolves
 * with the rows the engine refused on their own (none when the first insert succeeds).
 */
/** Rows as `insertIsolating` takes them: an array, or encoded rows that slice the same way. */
export interface Sliceable {
  readonly length: number;
  slice(start: number, end: number): this;
}

export async function insertIsolating<R extends Sliceable>(rows: R, insert: (rows: R, part: string) => Promise<void>, opts: IsolateOptions = {}): Promise<RefusedRow[]> {
  const transient = opts.isTransient ?? isTransientInsertError;
  const refused: RefusedRow[] = [];
  const attempt = async (from: number, to: number, whole: boolean): Promise<void> => {
    if (from >= to) return;
    try {
      await insert(whole ? rows : rows.slice(from, to), whole ? '' : `${from}-${to - 1}`);
    } catch (err) {
      if (transient(err)) throw err;
      if (to - from === 1) {
        if (opts.engineUp && !(await opts.engineUp())) throw err;
        refused.push({ index: from, error: err instanceof Error ? err.message : String(err) });
        return;
      }
      const mid = from + Math.ceil((to - from) / 2);
      await attempt(from, mid, false);
      await attempt(mid, to, false);
    }
  };
  await attempt(0, rows.length, true);
  return refused;
}
