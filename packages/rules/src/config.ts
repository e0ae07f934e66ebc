import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, checkSection, parseYamlDocument, type VigilConfig } from '@vigil/platform';
import { RuleError, compileRules, type CompiledRule } from './rules.js';
import { RULE_KINDS, RULE_SCHEMAS, RuleFileSchema, RulesSection, type Rule, type RuleKind, type RulesSettings } from './schema.js';

/**
 * Loading rules: the `rules:` section of vigil.yaml (left open by the platform's schema), the rule
 * files it names, and the default pack. One schema for all; every problem names the file, the
 * rule and the key, and a set with any problem is refused whole.
 */

export interface RuleSet {
  settings: RulesSettings;
  rules: CompiledRule[];
  /** The rule files read (watched for changes). */
  files: string[];
}

/** The default pack shipped with Vigil. */
export const DEFAULT_PACK_PATH = fileURLToPath(new URL('../pack/default.yaml', import.meta.url));

function yamlOf(text: string, file: string): unknown {
  const doc = parseYamlDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) throw new ConfigError(doc.errors.map((e) => `${file}: ${e.message.split('\n')[0]}`));
  return doc.toJS() ?? {};
}

/**
 * Checks one rule, written as in YAML, with its kind's schema; `at` names where it is
 * (`rules.yaml: rules[2]`). Durations come out in milliseconds.
 */
export function checkRule(raw: unknown, at: string): Rule {
  const obj = (raw ?? {}) as Record<string, unknown>;
  const name = typeof obj.name === 'string' ? obj.name : '';
  const named = name ? `${at} "${name}"` : at;
  const kind = (obj.kind ?? 'threshold') as string;
  if (!(RULE_KINDS as readonly string[]).includes(kind)) {
    throw new ConfigError([`${named}: kind: "${kind}" is not a rule kind (use one of ${RULE_KINDS.join(', ')})`]);
  }
  try {
    return checkSection(RULE_SCHEMAS[kind as RuleKind], { ...obj, kind }, at) as Rule;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // `at.key: problem` becomes `at "name": key: problem`.
    throw new ConfigError(err.problems.map((p) => (p.startsWith(`${at}.`) ? `${named}: ${p.slice(at.length + 1)}` : p)));
  }
}

/** Rules of a rule file's text; `file` names it in messages. */
export function parseRuleFile(text: string, file: string): { rules: Rule[]; origins: string[] } {
  const raw = yamlOf(text, file);
  const doc = checkSection(RuleFileSchema, Array.isArray(raw) ? { rules: raw } : raw, file);
  const problems: string[] = [];
  const rules: Rule[] = [];
  const origins: string[] = [];
  doc.rules.forEach((r: unknown, i: number) => {
    try {
      rules.push(checkRule(r, `${file}: rules[${i}]`));
      origins.push(`${file}: rules[${i}]`);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return { rules, origins };
}

function readText(file: string, at: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${at}: cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
}

const RULE_FILE = /\.ya?ml$/;
const TEST_FILE = /\.test\.ya?ml$/;

/** The files a `rules.files` entry names: itself, or a directory's *.yaml and *.yml (tests left out), in name order. */
export function ruleFilesOf(path: string, at: string): string[] {
  if (!existsSync(path)) throw new ConfigError([`${at}: "${path}" does not exist (give a rule file or a directory of *.yaml files)`]);
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => RULE_FILE.test(f) && !TEST_FILE.test(f))
    .sort()
    .map((f) => join(path, f));
}

/** The default pack's rules. */
export function defaultPack(): { rules: Rule[]; origins: string[] } {
  const { rules, origins } = parseRuleFile(readText(DEFAULT_PACK_PATH, 'default pack'), 'default pack');
  return { rules, origins };
}

export interface LoadOptions {
  /** Shown in messages (the config file); relative rule paths are resolved from its directory. */
  source?: string;
}

/**
 * Checks `rules:` (a raw section: the platform leaves it open), reads its rule files and the
 * default pack, and compiles the whole set. Throws ConfigError listing every problem.
 */
export function loadRuleSet(section: unknown, opts: LoadOptions = {}): RuleSet {
  const source = opts.source ?? 'config';
  const settings = checkSection(RulesSection, section, `${source}: rules`);
  const base = existsSync(source) && statSync(source).isFile() ? dirname(resolve(source)) : process.cwd();
  const problems: string[] = [];
  const rules: Rule[] = [];
  const origins: string[] = [];
  const attempt = (fn: () => void) => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  };
  const rawRules = ((section ?? {}) as { rules?: unknown[] }).rules ?? [];
  rawRules.forEach((r, i) => attempt(() => {
    rules.push(checkRule(r, `${source}: rules.rules[${i}]`));
    origins.push(`${source}: rules.rules[${i}]`);
  }));
  const files: string[] = [];
  settings.files.forEach((entry: string, i: number) =>
    attempt(() => {
      for (const file of ruleFilesOf(resolve(base, entry), `${source}: rules.files[${i}]`)) {
        files.push(file);
        attempt(() => {
          const parsed = parseRuleFile(readText(file, `${source}: rules.files[${i}]`), file);
          rules.push(...parsed.rules);
          origins.push(...parsed.origins);
        });
      }
    }),
  );
  if (settings.defaults) {
    attempt(() => {
      const pack = defaultPack();
      const configured = new Set(rules.map((r) => r.name));
      pack.rules.forEach((r, i) => {
        if (configured.has(r.name)) return;
        rules.push(r);
        origins.push(pack.origins[i]!);
      });
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  try {
    return { settings, rules: compileRules(rules, origins), files };
  } catch (err) {
    if (err instanceof RuleError) throw new ConfigError(err.problems);
    throw err;
  }
}

/** `vigil validate` and the role's start: the rules section of a loaded config. */
export function checkRulesConfig(config: VigilConfig, source = 'config'): RuleSet {
  return loadRuleSet(config.rules, { source });
}
