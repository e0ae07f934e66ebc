/**
 * Work that runs for long without awaiting (decoding a batch of thousands of records) holds the
 * event loop, and everything else in the process waits behind it: in the all-in-one an OTLP
 * request waited up to 300 ms for ingest's and the rules' decoding of an 8 MiB batch. A loop
 * calls the check this returns after each item; once `budgetMs` has passed since the last pause
 * it returns a promise to await, resolved after the I/O waiting meanwhile (`setImmediate`), and
 * undefined otherwise (no await per item).
 */
export function timeSlices(budgetMs = 8, now: () => number = () => performance.now()): () => Promise<void> | undefined {
  let since = now();
  return () => {
    if (now() - since < budgetMs) return undefined;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        since = now();
        resolve();
      }),
    );
  };
}
