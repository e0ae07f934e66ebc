import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { ConfigError, checkSection } from '@vigil/platform';
import { MultilineAssembler, MultilineSchema } from '../plugins/file/multiline.js';
import { formatCorpusReport, loadCorpus, scoreCorpus } from './corpus.js';
import { loadRulePack } from './load.js';
import type { ParseResult, Parser } from './types.js';

/**
 * `vigil parse --rules FILE [--format text|json] < sample.log`: shows what a rule pack makes of
 * each input line, to write and debug rules against real samples before deploying them. With
 * the file plugin's multiline options, lines are joined into records as the plugin joins them;
 * with `--corpus`, the pack is scored against lines whose severity and category are known.
 */

export const PARSE_USAGE =
  'vigil parse [--rules default|FILE] [--format text|json] [--multiline-start-pattern REGEX [--multiline-flush-timeout 1s] [--multiline-max-lines 500]] < sample.log\n' +
  '       vigil parse [--rules default|FILE] --corpus FILE|DIR';

export interface ParseCommandIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

interface ParseArgs {
  rules: string;
  format: 'text' | 'json';
  corpus: string | undefined;
  /** The file plugin's `multiline` options, as given (checked by its schema). */
  multiline: Record<string, unknown>;
}

/** Flags that set the file plugin's multiline options, by option. */
const MULTILINE_FLAGS: Record<string, string> = {
  '--multiline-start-pattern': 'startPattern',
  '--multiline-flush-timeout': 'flushTimeout',
  '--multiline-max-lines': 'maxLines',
};

function parseArgs(argv: string[]): ParseArgs | string {
  const out: ParseArgs = { rules: 'default', format: 'text', corpus: undefined, multiline: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    if (flag === '--rules' || flag === '-r') {
      const v = value();
      if (!v) return '--rules needs a pack name (default) or a YAML file';
      out.rules = v;
    } else if (flag === '--format' || flag === '-f') {
      const v = value();
      if (v !== 'text' && v !== 'json') return `--format: "${v ?? ''}" is not a format (use text or json)`;
      out.format = v;
    } else if (flag === '--corpus') {
      const v = value();
      if (!v) return '--corpus needs a corpus file or directory of YAML files';
      out.corpus = v;
    } else if (MULTILINE_FLAGS[flag] !== undefined) {
      const v = value();
      if (v === undefined) return `${flag} needs a value`;
      const key = MULTILINE_FLAGS[flag]!;
      out.multiline[key] = key === 'maxLines' && /^\d+$/.test(v) ? Number(v) : v;
    } else return `unknown option ${a}`;
  }
  if (Object.keys(out.multiline).length > 0 && out.multiline.startPattern === undefined) return '--multiline-flush-timeout and --multiline-max-lines need --multiline-start-pattern';
  return out;
}

/** The multiline options checked by the file plugin's schema; problems name the flag. */
function multilineOptions(given: Record<string, unknown>): { startPattern: RegExp; flushTimeout: number; maxLines: number } {
  try {
    const o = checkSection(MultilineSchema, given, '\u0000');
    return { startPattern: new RegExp(o.startPattern), flushTimeout: o.flushTimeout, maxLines: o.maxLines };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const flagOf = Object.fromEntries(Object.entries(MULTILINE_FLAGS).map(([f, k]) => [k, f]));
    throw new ConfigError(err.problems.map((p) => p.replace(/^\u0000\.(\w+)/, (_, k: string) => flagOf[k] ?? k)));
  }
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function attributesText(attrs: Record<string, unknown>): string {
  return Object.keys(attrs)
    .map((k) => `${k}=${show(attrs[k])}`)
    .join(' ');
}

/** One record as text; `last` is its last line when it spans several. */
export function formatText(n: number, r: ParseResult, last: number = n): string {
  const { record } = r;
  const attrs = (record.attributes ?? {}) as Record<string, unknown>;
  const sev = record.severityNumber ? `${record.severityText ?? ''}(${record.severityNumber}) ${String(attrs['vigil.severity'] ?? '')}` : 'no severity';
  const category = attrs['vigil.category'] !== undefined ? `  category=${String(attrs['vigil.category'])}` : '';
  const lines = [`line ${last > n ? `${n}-${last}` : n}: ${sev}${category}  rules=${r.matched.length > 0 ? r.matched.join(',') : '(none)'}`];
  lines.push(`  time       ${record.timestamp !== undefined ? new Date(record.timestamp).toISOString() : '-'}`);
  if (record.eventName) lines.push(`  event      ${record.eventName}`);
  lines.push(`  body       ${JSON.stringify(record.body)}`);
  for (const k of Object.keys(attrs)) {
    if (k === 'vigil.severity' || k === 'vigil.category') continue;
    lines.push(`  attribute  ${k} = ${show(attrs[k])}`);
  }
  for (const m of r.metrics) lines.push(`  metric     ${m.name} ${m.kind} ${m.value}${m.unit ? ` ${m.unit}` : ''} {${attributesText(m.attributes as Record<string, unknown>)}}`);
  return `${lines.join('\n')}\n`;
}

/** Runs the command; resolves to the exit code. A bad pack, corpus or option throws a ConfigError naming it. */
export async function parseCommand(argv: string[], io: ParseCommandIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    io.stderr.write(`vigil parse: ${args}\nusage: ${PARSE_USAGE}\n`);
    return 2;
  }
  const parser = loadRulePack(args.rules);
  if (args.corpus !== undefined) return corpusCommand(parser, args, io);
  const multiline = args.multiline.startPattern === undefined ? undefined : multilineOptions(args.multiline);

  let lineCount = 0;
  let records = 0;
  let matched = 0;
  const categories = new Map<string, number>();
  const emit = (text: string, first: number, last: number) => {
    if (text.trim() === '') return;
    records++;
    const r = parser.parse(text);
    if (r.matched.length > 0) matched++;
    const category = r.record.attributes?.['vigil.category'];
    if (typeof category === 'string') categories.set(category, (categories.get(category) ?? 0) + 1);
    if (args.format === 'json') io.stdout.write(`${JSON.stringify({ line: first, ...(last > first ? { lastLine: last } : {}), record: r.record, metrics: r.metrics, matched: r.matched })}\n`);
    else io.stdout.write(formatText(first, r, last));
  };

  const reader = createInterface({ input: io.stdin, crlfDelay: Infinity });
  if (multiline === undefined) {
    for await (const line of reader) {
      lineCount++;
      emit(line, lineCount, lineCount);
    }
  } else {
    // As the file plugin does: a line matching the start pattern starts a record; a record is
    // emitted by the next one, after flushTimeout without a line (a sample piped from tail -f), or at the end.
    const assembler = new MultilineAssembler({ ...multiline, maxChars: 65536 });
    let next = 1;
    const take = (a: { text: string; end: number } | undefined) => {
      if (a === undefined) return;
      emit(a.text, next, a.end);
      next = a.end + 1;
    };
    let timer: NodeJS.Timeout | undefined;
    for await (const line of reader) {
      lineCount++;
      take(assembler.push(line, lineCount, false, Date.now()));
      clearTimeout(timer);
      timer = setTimeout(() => take(assembler.flush(Date.now())), multiline.flushTimeout);
    }
    clearTimeout(timer);
    take(assembler.flush(Date.now(), true));
  }
  if (args.format === 'text') {
    const cats = [...categories].map(([c, k]) => `${c}: ${k}`).join(', ');
    const what = multiline === undefined ? `${lineCount} line(s)` : `${lineCount} line(s) in ${records} record(s)`;
    io.stdout.write(`\n${what}, ${matched} matched by a rule of ${parser.source}${cats ? `; ${cats}` : ''}\n`);
  }
  return 0;
}

/** `--corpus`: the pack's accuracy on a corpus; exit code 1 when any record comes out wrong. */
function corpusCommand(parser: Parser, args: ParseArgs, io: ParseCommandIo): number {
  const report = scoreCorpus(parser, loadCorpus(args.corpus!));
  if (args.format === 'json') {
    const entries = <T>(m: Map<string, T>) => Object.fromEntries(m);
    io.stdout.write(
      `${JSON.stringify({
        records: report.records,
        lines: report.lines,
        right: report.right,
        bySource: entries(report.bySource),
        bySeverity: entries(report.bySeverity),
        byCategory: entries(report.byCategory),
        misses: report.misses.map((m) => ({ at: m.record.at, line: m.record.line, problems: m.problems })),
      })}\n`,
    );
  } else io.stdout.write(formatCorpusReport(report, parser.source));
  return report.misses.length === 0 ? 0 : 1;
}
