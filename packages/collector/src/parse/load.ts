import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, parseYamlDocument } from '@vigil/platform';
import { RuleParser, compileRules, type CompiledRule } from './compile.js';
import type { Parser } from './types.js';

/**
 * Loading rule packs: a built-in pack by name (`default`, shipped in `packages/collector/rules/`)
 * or a YAML file. Synchronous, since it runs once when a plugin's config is checked, and
 * `vigil validate` should see a broken pack before anything starts.
 */

/** The folder of the packs shipped with the collector. */
export const BUILTIN_RULES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../rules');

/** Names of the built-in packs (`default`, `plain`, ...). */
export function builtinRulePacks(): string[] {
  return readdirSync(BUILTIN_RULES_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

const BUILTIN_NAME = /^[a-z0-9_-]+$/;

function locate(ref: string, base: string): { path: string; source: string } {
  if (BUILTIN_NAME.test(ref) && !ref.includes('.')) {
    const path = resolve(BUILTIN_RULES_DIR, `${ref}.yaml`);
    if (existsSync(path)) return { path, source: ref };
  }
  const path = isAbsolute(ref) ? ref : resolve(base, ref);
  return { path, source: ref };
}

/** Reads and parses one YAML file into a plain value; ConfigError naming the file otherwise. */
export function readYamlFile(path: string, source: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    const hint = BUILTIN_NAME.test(source) ? ` (built-in packs: ${builtinRulePacks().join(', ')}; or give a file path)` : '';
    throw new ConfigError([`${source}: cannot read the rule pack (${code})${hint}`]);
  }
  const doc = parseYamlDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) throw new ConfigError(doc.errors.map((e) => `${source}: ${e.message.split('\n')[0]}`));
  return doc.toJS() ?? {};
}

function collect(ref: string, base: string, seen: string[], out: CompiledRule[]): boolean {
  const { path, source } = locate(ref, base);
  if (seen.includes(path)) throw new ConfigError([`${source}: include: the pack includes itself (${[...seen, path].join(' → ')})`]);
  const pack = compileRules(readYamlFile(path, source), source);
  out.push(...pack.rules);
  for (const inc of pack.include) collect(inc, dirname(path), [...seen, path], out);
  return pack.json;
}

/**
 * Loads a rule pack: a built-in name (`default`) or a YAML file path (relative to `cwd`). The
 * pack's own rules run first, then those of the packs it includes, in order.
 */
export function loadRulePack(nameOrPath: string, cwd: string = process.cwd()): Parser {
  const rules: CompiledRule[] = [];
  const json = collect(nameOrPath, cwd, [], rules);
  const names = new Set<string>();
  const problems: string[] = [];
  for (const r of rules) {
    if (names.has(r.name)) problems.push(`${r.source}: rule "${r.name}" is also defined in an included pack (rename one of them)`);
    names.add(r.name);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return new RuleParser(nameOrPath, rules, json);
}
