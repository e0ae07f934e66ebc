/**
 * Parse throughput of a rule pack: lines/s on a mixed sample (every format and error class of
 * the default pack's fixtures, plus JSON lines) and on an access-log-heavy mix.
 *   npx tsx bench/parse/run.ts [--rules default] [--seconds 3]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRulePack } from '../../packages/collector/src/parse/index.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};
const parser = loadRulePack(opt('--rules', 'default'));
const seconds = Number(opt('--seconds', '3'));
const mixed = readFileSync(join(import.meta.dirname, '../../packages/collector/src/parse/fixtures/mixed.txt'), 'utf8').trim().split('\n');
const access = mixed.filter((l) => /^\S+ - \S+ \[/.test(l));
const json = mixed.filter((l) => l.startsWith('{'));
// A busy host: mostly access-log lines, some JSON application logs, a few of everything else.
const heavy = [...Array(14).fill(access).flat(), ...Array(4).fill(json).flat(), ...mixed];

function measure(name: string, lines: string[]): void {
  const ctx = { timestamp: Date.now() };
  for (let i = 0; i < 20_000; i++) parser.parse(lines[i % lines.length]!, ctx); // warm up
  let n = 0;
  let bytes = 0;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) {
      const line = lines[(n + i) % lines.length]!;
      parser.parse(line, ctx);
      bytes += line.length;
    }
    n += 1000;
  }
  const s = (performance.now() - start) / 1000;
  console.log(`${name}: ${Math.round(n / s).toLocaleString('en')} lines/s, ${(bytes / s / 1e6).toFixed(1)} MB/s (${lines.length} distinct lines, ${parser.rules.length} rules, ${s.toFixed(1)} s)`);
}

measure('mixed (every format and error class once)', mixed);
measure('access-heavy (70% nginx access, 15% JSON)', heavy);
