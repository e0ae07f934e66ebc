/**
 * Timestamps as logs write them, to ms since the epoch. Formats without a zone (nginx's error
 * log, syslog RFC 3164, Python's logging) are read in the collector's local time, which is the
 * time of the host that wrote them.
 */

const MONTHS: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };

// 10/Oct/2000:13:55:36 -0700 (Common Log Format, nginx and Apache access logs); 10/Oct/2000 13:55:36 (Django, werkzeug)
const CLF = /^(\d{1,2})\/([A-Za-z]{3})\/(\d{4})[: ](\d{2}):(\d{2}):(\d{2})(?:\s+([+-])(\d{2})(\d{2}))?$/;
// 0115 10:00:00.123456 (klog and glog: month and day, no year, no zone)
const KLOG = /^(\d{2})(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;
// Oct 11 22:14:15 (RFC 3164: no year, no zone)
const BSD = /^([A-Za-z]{3})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})$/;
// 2024/01/15 10:00:00 (nginx error log)
const SLASHED = /^(\d{4})\/(\d{2})\/(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/;
// 2024-01-15 10:00:00,123 (Python logging's asctime)
const COMMA_MS = /^(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}),(\d{1,6})/;
const NUMERIC = /^\d+(\.\d+)?$/;

/** A local time written without its year: this year, or last year for a December line read in January. */
function withoutYear(now: number, month: number, day: number, h: number, min: number, sec: number, ms: number): number {
  const year = new Date(now).getFullYear();
  const t = new Date(year, month, day, h, min, sec, ms).getTime();
  return t > now + 86_400_000 ? new Date(year - 1, month, day, h, min, sec, ms).getTime() : t;
}

/** Epoch numbers in s, ms, µs or ns, told apart by magnitude. */
export function epochToMs(n: number): number {
  if (n > 1e17) return Math.floor(n / 1e6);
  if (n > 1e14) return Math.floor(n / 1e3);
  if (n > 1e11) return Math.floor(n);
  return Math.round(n * 1000);
}

/** ms since the epoch, or undefined when the text is not a time this knows. `now` places year-less times. */
export function parseTimestamp(text: string, now: number = Date.now()): number | undefined {
  if (NUMERIC.test(text)) return epochToMs(Number(text));
  let m = CLF.exec(text);
  if (m) {
    const month = MONTHS[m[2]!.toLowerCase()];
    if (month === undefined) return undefined;
    const utc = Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
    if (!m[7]) return utc;
    const offset = (Number(m[8]) * 60 + Number(m[9])) * 60_000;
    return m[7] === '+' ? utc - offset : utc + offset;
  }
  m = BSD.exec(text);
  if (m) {
    const month = MONTHS[m[1]!.toLowerCase()];
    if (month === undefined) return undefined;
    return withoutYear(now, month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), 0);
  }
  m = KLOG.exec(text);
  if (m) return withoutYear(now, Number(m[1]) - 1, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number((m[6] ?? '0').padEnd(3, '0').slice(0, 3)));
  m = SLASHED.exec(text);
  if (m) return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])).getTime();
  m = COMMA_MS.exec(text);
  const t = Date.parse(m ? `${m[1]}.${m[2]!.slice(0, 3)}` : text);
  return Number.isNaN(t) ? undefined : t;
}
