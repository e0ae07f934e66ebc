// @ts-expect-error kafkajs ships no types for its internal modules.
import RequestQueue from 'kafkajs/src/network/requestQueue/index.js';

/**
 * Two idle costs of kafkajs 2.2.4, fixed on its request queue (one per broker connection).
 *
 * kafkajs 2.2.4 keeps a 1 ms timer running on every broker connection while nothing is pending
 * (`throttledUntil` is -1, so it schedules the next check at a negative delay, forever): an idle
 * collector woke up ~1,700 times a second and spent 3-4 % of a core doing nothing. This is the
 * fix proposed upstream (tulios/kafkajs#1556, #1704, #1768): with nothing pending and no throttle,
 * schedule nothing; `push` and the completion of an in-flight request check the queue anyway.
 *
 * And it checks in-flight requests for their timeout every 100 ms: every 1 s is enough for a
 * 30 s request timeout, and wakes the process ten times less.
 *
 * Imported for its effect by kafka.ts, so it patches the very kafkajs instance the bus uses.
 */
interface Queue {
  enforceRequestTimeout: boolean;
  requestTimeout: number;
  requestTimeoutIntervalId: NodeJS.Timeout | undefined;
  inflight: Map<number, { sentAt: number; requestTimeout: number; timeoutRequest(): void }>;
  isConnected(): boolean;
  destroy(): void;
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  pending: unknown[];
  checkPendingRequests(): void;
}

const CHECK_PENDING_REQUESTS_INTERVAL = 10;
const TIMEOUT_CHECK_MS = 1_000;
const proto = (RequestQueue as { prototype: Queue & { scheduleCheckPendingRequests(): void; scheduleRequestTimeoutCheck(): void } }).prototype;
if (typeof proto?.scheduleCheckPendingRequests === 'function' && typeof proto.scheduleRequestTimeoutCheck === 'function') {
  proto.scheduleRequestTimeoutCheck = function scheduleRequestTimeoutCheck(this: Queue): void {
    if (!this.enforceRequestTimeout) return;
    this.destroy();
    this.requestTimeoutIntervalId = setInterval(() => {
      this.inflight.forEach((request) => {
        if (Date.now() - request.sentAt > request.requestTimeout) request.timeoutRequest();
      });
      if (!this.isConnected()) this.destroy();
    }, Math.min(this.requestTimeout, TIMEOUT_CHECK_MS));
  };
  proto.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: Queue): void {
    if (this.throttleCheckTimeoutId) return;
    let scheduleAt = this.throttledUntil - Date.now();
    if (this.pending.length > 0) scheduleAt = scheduleAt > 0 ? scheduleAt : CHECK_PENDING_REQUESTS_INTERVAL;
    else if (scheduleAt <= 0) return;
    this.throttleCheckTimeoutId = setTimeout(() => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    }, scheduleAt);
  };
}
