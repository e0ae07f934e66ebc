/**
 * Exceptions in multiline records and stack-trace fields: where the trace starts, its type and
 * message (OpenTelemetry's `exception.type` and `exception.message`), and the lines worth
 * classifying (each exception of a chain: Java's `Caused by:`, .NET's `--->`, Python's chained
 * tracebacks), for Python, Java (and other JVM languages), Node, Go and .NET traces. Pure.
 */

export interface ExtractedException {
  /** The exception thrown: the first of a Java, Node or .NET chain, the last of Python's (the one that propagated). Absent for a trace of frames only. */
  type: string | undefined;
  message: string | undefined;
  /** Index of the line where the trace starts (0: the record is the trace). */
  start: number;
  /** Every exception line of the chain, trimmed, in order (at most MAX_CAUSES). */
  causes: string[];
  /** The first frame line, when the trace has no exception line (frames only, as zap prints them). */
  firstFrame: string | undefined;
}

const MAX_CAUSES = 12;

// java.lang.IllegalStateException: msg, Caused by: ..., psycopg2.OperationalError: msg,
// Error [ERR_X]: msg (Node), Npgsql.NpgsqlException (0x80004005): msg and ---> (.NET inner exceptions);
// types without the usual suffix from an exceptions module (django.core.exceptions.ImproperlyConfigured).
const EXCEPTION =
  /^(?:Exception in thread "[^"]*" |Caused by: |Suppressed: |Uncaught |Unhandled (?:exception|rejection)[.:] ?|---> |\[cause\]: )?((?:[A-Za-z_$][\w$]*\.)*(?:[A-Za-z_$][\w$]*)?(?:Error|Exception|Exit|Interrupt|Fault|Exceeded)|(?:[A-Za-z_]\w*\.)*(?:exceptions|exc|errors|err)\.[A-Z]\w*|(?:[A-Za-z_]\w*\.)+DoesNotExist)(?: \[[A-Z][A-Z0-9_]*\]| \((?:0x[0-9A-Fa-f]+|-?\d+)\))?(?::\s*(.*))?$/;
const GO_PANIC = /^(panic|fatal error): (.*?)(?: \[recovered\])?$/;
const PYTHON_HEADER = /^(?:\+ )?(?:Exception Group )?Traceback \(most recent call last\):$/;
const FRAME = [
  /^File "[^"]+", line \d+/, // Python
  /^at (?:async )?\S.*(?:\(.*\)(?: in .+:line \d+| ~?\[[^\]]*\])?|:\d+:\d+)$/, // Java (with logback's packaging data), .NET, Node
  /^\.\.\. \d+ (?:more|common frames omitted)$/, // Java
  /^--- End of (?:inner exception )?stack trace/, // .NET
  /^goroutine \d+ \[[^\]]+\]:$/, // Go
];
// A Go frame's file line, with its tab: "\t/app/main.go:12 +0x1d".
const GO_FILE_LINE = /^\t\S+\.go:\d+(?: \+0x[0-9a-f]+)?$/;
// Python 3.11 exception groups and pretty tracebacks indent with "| " and "+-+-".
const DECORATION = /^(?:[|+][ -]*)+/;

function strip(line: string): string {
  const t = line.trim();
  return t.charCodeAt(0) === 124 /* | */ || t.charCodeAt(0) === 43 /* + */ ? t.replace(DECORATION, '') : t;
}

function isFrame(line: string, trimmed: string): boolean {
  if (GO_FILE_LINE.test(line)) return true;
  for (const re of FRAME) if (re.test(trimmed)) return true;
  return false;
}

/** The exception in `lines` (a joined record split at its newlines), or undefined when they hold no trace. */
export function extractException(lines: readonly string[]): ExtractedException | undefined {
  let start = -1;
  let python = false;
  let firstFrame: string | undefined;
  let chosen: { type: string; message: string | undefined } | undefined;
  let pythonLast: { type: string; message: string | undefined } | undefined;
  const causes: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.length === 0) continue;
    const t = strip(line);
    if (PYTHON_HEADER.test(t)) {
      python = true;
      if (start < 0) start = i;
      continue;
    }
    const m = EXCEPTION.exec(t) ?? GO_PANIC.exec(t);
    if (m) {
      // An exception line ends a Python traceback; in Java, Node, Go and .NET it starts one.
      if (start < 0) start = i;
      const e = { type: m[1]!, message: m[2] === undefined || m[2] === '' ? undefined : m[2] };
      if (chosen === undefined) chosen = e;
      pythonLast = e;
      if (causes.length < MAX_CAUSES) causes.push(t);
      continue;
    }
    if (isFrame(line, t)) {
      // Go prints each frame's function on the line before its file: main.(*Repo).Find
      if (start < 0) start = i > 1 && GO_FILE_LINE.test(line) && lines[i - 1]!.trim() !== '' ? i - 1 : i;
      firstFrame ??= t;
    }
  }
  if (start < 0) return undefined;
  const thrown = python ? pythonLast : chosen;
  return { type: thrown?.type, message: thrown?.message, start, causes, firstFrame: causes.length === 0 ? firstFrame : undefined };
}
