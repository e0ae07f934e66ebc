import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { loadRulePack } from './load.js';
import type { ParseResult } from './types.js';

/**
 * `vigil parse --rules FILE [--format text|json] < sample.log`: shows what a rule pack makes of
 * each input line, to write and debug rules against real samples before deploying them.
 */

export const PARSE_USAGE = 'vigil parse [--rules default|FILE] [--format text|json] < sample.log';

export interface ParseCommandIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

interface ParseArgs {
  rules: string;
  format: 'text' | 'json';
}

function parseArgs(argv: string[]): ParseArgs | string {
  const out: ParseArgs = { rules: 'default', format: 'text' };
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
    } else return `unknown option ${a}`;
  }
  return out;
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function attributesText(attrs: Record<string, unknown>): string {
  return Object.keys(attrs)
    .map((k) => `${k}=${show(attrs[k])}`)
    .join(' ');
}

export function formatText(n: number, r: ParseResult): string {
  const { record } = r;
  const attrs = (record.attributes ?? {}) as Record<string, unknown>;
  const sev = record.severityNumber ? `${record.severityText ?? ''}(${record.severityNumber}) ${String(attrs['vigil.severity'] ?? '')}` : 'no severity';
  const category = attrs['vigil.category'] !== undefined ? `  category=${String(attrs['vigil.category'])}` : '';
  const lines = [`line ${n}: ${sev}${category}  rules=${r.matched.length > 0 ? r.matched.join(',') : '(none)'}`];
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

/** Runs the command; resolves to the exit code. A bad pack throws the loader's ConfigError. */
export async function parseCommand(argv: string[], io: ParseCommandIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    io.stderr.write(`vigil parse: ${args}\nusage: ${PARSE_USAGE}\n`);
    return 2;
  }
  const parser = loadRulePack(args.rules);
  const reader = createInterface({ input: io.stdin, crlfDelay: Infinity });
  let n = 0;
  let matched = 0;
  const categories = new Map<string, number>();
  for await (const line of reader) {
    n++;
    if (line === '') continue;
    const r = parser.parse(line);
    if (r.matched.length > 0) matched++;
    const category = r.record.attributes?.['vigil.category'];
    if (typeof category === 'string') categories.set(category, (categories.get(category) ?? 0) + 1);
    io.stdout.write(args.format === 'json' ? `${JSON.stringify({ line: n, record: r.record, metrics: r.metrics, matched: r.matched })}\n` : formatText(n, r));
  }
  if (args.format === 'text') {
    const cats = [...categories].map(([c, k]) => `${c}: ${k}`).join(', ');
    io.stdout.write(`\n${n} line(s), ${matched} matched by a rule of ${parser.source}${cats ? `; ${cats}` : ''}\n`);
  }
  return 0;
}
