import { readFile } from 'node:fs/promises';
import { Value, type ValueError } from '@sinclair/typebox/value';
import { ValueErrorType } from '@sinclair/typebox/errors';
import type { StaticDecode, TSchema } from '@sinclair/typebox';
import { parseDocument } from 'yaml';
import { ConfigSchema, type VigilConfig } from './schema.js';
import { DURATION_HINT, formatDuration } from '../duration.js';
import { hostPortProblem, hostProblem, httpUrlProblem } from './address.js';
import { ENV_REF, literalSecretProblem } from './secrets.js';

/** A config that cannot be used; the message names the file, the key, the value and what is allowed. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /** Shown in messages; defaults to the file path or `config`. */
  source?: string;
  /** Environment for ${VAR} substitution and overrides; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}


type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export async function loadConfigFile(file: string, opts: LoadOptions = {}): Promise<VigilConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read the config file (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  return parseConfig(text, { source: file, ...opts });
}

/** Parses and validates a YAML config text. An empty text gives the defaults. */
export function parseConfig(text: string, opts: LoadOptions = {}): VigilConfig {
  const source = opts.source ?? 'config';
  const env = opts.env ?? process.env;
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `${source}: ${e.message.split('\n')[0]}`));
  }
  const raw = (doc.toJS() ?? {}) as Json;
  if (typeof raw !== 'object' || Array.isArray(raw) || raw === null) {
    throw new ConfigError([`${source}: the top level must be a mapping of keys (dataDir, kafka, clickhouse, ...)`]);
  }
  return buildConfig(raw, source, env);
}

/** Validates an already-parsed config object (defaults filled, env applied). */
export function buildConfig(raw: Json, source: string, env: NodeJS.ProcessEnv): VigilConfig {
  const problems: string[] = [];
  const substituted = substituteEnv(raw, [], env, source, problems) as Record<string, Json>;
  applyEnvOverrides(substituted, env, source, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  const withDefaults = Value.Default(ConfigSchema, Value.Clone(substituted));
  const errors = [...Value.Errors(ConfigSchema, withDefaults)];
  if (errors.length > 0) throw new ConfigError(dedupe(firstPerMissingKey(errors).map((e) => describe(e, `${source}: `, ConfigSchema))));
  const config = Value.Decode(ConfigSchema, withDefaults);
  problems.push(...semanticProblems(config, source));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * Replaces ${VAR} and ${VAR:-default}; refuses literal secrets in the file (secret keys, credential
 * headers, URL passwords, and defaults in those places), in every section, the notifier's included.
 */
function substituteEnv(value: Json, path: (string | number)[], env: NodeJS.ProcessEnv, source: string, problems: string[]): Json {
  if (typeof value === 'string') {
    const secret = literalSecretProblem(path, value);
    if (secret) {
      problems.push(`${source}: ${dotted(path)}: ${secret}`);
      return value;
    }
    return value.replace(ENV_REF, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      problems.push(`${source}: ${dotted(path)}: environment variable ${name} is not set`);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, [...path, i], env, source, problems));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, [...path, k], env, source, problems);
    return out;
  }
  return value;
}

function obj(root: Record<string, Json>, key: string): Record<string, Json> {
  const cur = root[key];
  if (cur !== null && typeof cur === 'object' && !Array.isArray(cur)) return cur;
  const fresh: Record<string, Json> = {};
  root[key] = fresh;
  return fresh;
}

/** The environment variables that the README and deploy files promise. */
function applyEnvOverrides(cfg: Record<string, Json>, env: NodeJS.ProcessEnv, source: string, problems: string[]): void {
  if (env.VIGIL_PORT) {
    const port = Number(env.VIGIL_PORT);
    if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`VIGIL_PORT: "${env.VIGIL_PORT}" is not a port (use a whole number from 0 to 65535)`);
    else obj(cfg, 'http').port = port;
  }
  if (env.VIGIL_DATA_DIR) cfg.dataDir = env.VIGIL_DATA_DIR;
  if (env.KAFKA_BROKERS) obj(cfg, 'kafka').brokers = env.KAFKA_BROKERS.split(',').map((b) => b.trim()).filter(Boolean);
  if (env.CLICKHOUSE_URL) obj(cfg, 'clickhouse').url = env.CLICKHOUSE_URL;
  if (env.CLICKHOUSE_PASSWORD && obj(cfg, 'clickhouse').password === undefined) obj(cfg, 'clickhouse').password = env.CLICKHOUSE_PASSWORD;
  if (env.VIGIL_API_TOKEN && obj(cfg, 'http').token === undefined) obj(cfg, 'http').token = env.VIGIL_API_TOKEN;
  if (env.LOG_LEVEL) obj(cfg, 'log').level = env.LOG_LEVEL;
  void source;
}

/** Below this, `clickhouse.retention` needs `allowShortRetention: true`: a typo of 30s for 30d would delete all history. */
export const MIN_RETENTION_MS = 3_600_000;
/**
 * Above this, a TTL passes 2106, the end of ClickHouse's DateTime, and wraps into the past: every
 * row would be deleted at once.
 */
export const MAX_RETENTION_MS = 3650 * 86_400_000;

function semanticProblems(config: VigilConfig, source: string): string[] {
  const out: string[] = [];
  const { retention, allowShortRetention } = config.clickhouse;
  if (retention < MIN_RETENTION_MS && !allowShortRetention) {
    out.push(
      `${source}: clickhouse.retention: "${formatDuration(retention)}" would delete stored data after less than an hour (use at least 1h, e.g. 30d, the default; or set clickhouse.allowShortRetention: true if that is meant)`,
    );
  }
  if (retention > MAX_RETENTION_MS) {
    out.push(`${source}: clickhouse.retention: "${formatDuration(retention)}" is longer than 3650d (10 years), past which ClickHouse's TTL dates wrap around and delete everything (use at most 3650d)`);
  }
  const address = (key: string, problem: string | undefined) => problem && out.push(`${source}: ${key}: ${problem}`);
  address('http.host', hostProblem(config.http.host));
  config.kafka.brokers.forEach((b, i) => address(`kafka.brokers[${i}]`, hostPortProblem(b)));
  if (config.clickhouse.url !== undefined) address('clickhouse.url', httpUrlProblem(config.clickhouse.url));
  if (config.clickhouse.cluster && config.clickhouse.url === undefined) {
    out.push(
      `${source}: clickhouse.cluster: "${config.clickhouse.cluster.name}" needs clickhouse.url, one of the cluster's servers (or CLICKHOUSE_URL); the embedded engine is one process, not a cluster (set url, or remove cluster)`,
    );
  }
  out.push(...tokenProblems(config.http, source));
  // rules: checked by the rules package (checkRulesConfig), rule files included.
  // notifier: checked by the notifier package (checkNotifierConfig), webhook names included.
  return out;
}

/** Scoped tokens: names and secrets unique, so a name in a 403 says which token it was. */
function tokenProblems(http: VigilConfig['http'], source: string): string[] {
  const out: string[] = [];
  const names = new Map<string, number>();
  http.tokens.forEach((t, i) => {
    const at = `${source}: http.tokens[${i}]`;
    if (t.name === 'http.token') out.push(`${at}.name: "http.token" is the name of http.token (give this token another name)`);
    const first = names.get(t.name);
    if (first !== undefined) out.push(`${at}.name: "${t.name}" is already the name of http.tokens[${first}] (names must be unique)`);
    else names.set(t.name, i);
    if (http.token !== undefined && t.token === http.token) out.push(`${at}.token: has the same secret as http.token (give each token its own secret)`);
    const same = http.tokens.findIndex((o) => o.token === t.token);
    if (same < i) out.push(`${at}.token: has the same secret as http.tokens[${same}] (give each token its own secret)`);
  });
  return out;
}

function dotted(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || '(top level)';
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/**
 * Checks one part of a config against a schema that lives with the code using it (a collector
 * plugin's options, say): defaults filled, durations decoded, and the same key-naming messages as
 * the whole file gets. `at` is what precedes the keys in messages, e.g. `f.yaml: collector.plugins[2]`.
 */
export function checkSection<T extends TSchema>(schema: T, value: unknown, at: string): StaticDecode<T> {
  const withDefaults = Value.Default(schema, Value.Clone(value ?? {}));
  const errors = [...Value.Errors(schema, withDefaults)];
  if (errors.length > 0) throw new ConfigError(dedupe(firstPerMissingKey(errors).map((e) => describe(e, `${at}.`, schema))));
  return Value.Decode(schema, withDefaults);
}

function schemaAt(root: TSchema, path: (string | number)[]): TSchema | undefined {
  let schema: TSchema | undefined = root;
  for (const part of path) {
    if (!schema) return undefined;
    if (typeof part === 'number') schema = schema.items as TSchema | undefined;
    else if (schema.properties) schema = (schema.properties as Record<string, TSchema>)[part];
    else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') schema = schema.additionalProperties as TSchema;
    else return undefined;
  }
  return schema;
}

function show(v: unknown): string {
  return typeof v === 'string' ? `"${v}"` : JSON.stringify(v);
}

function describe(e: ValueError, prefix: string, root: TSchema): string {
  const path = pointerToPath(e.path);
  const at = `${prefix}${dotted(path)}`.replace(/\.\[/g, '[').replace(/\.\(top level\)$/, '');
  const schema = e.schema as TSchema;
  if (e.type === ValueErrorType.ObjectAdditionalProperties) {
    const parent = schemaAt(root, path.slice(0, -1));
    const allowed = parent?.properties ? Object.keys(parent.properties as object).join(', ') : '';
    return `${at}: unknown key${allowed ? ` (allowed here: ${allowed})` : ''}`;
  }
  if (e.type === ValueErrorType.StringFormat && schema.format === 'regex') {
    let why = '';
    try {
      new RegExp(String(e.value));
    } catch (err) {
      why = ` (${(err as Error).message})`;
    }
    return `${at}: ${show(e.value)} is not a valid regular expression${why}`;
  }
  if (schema['x-kind'] === 'duration') return `${at}: ${show(e.value)} is not a duration (${DURATION_HINT})`;
  if (schema.anyOf && (schema.anyOf as TSchema[]).every((s) => s.const !== undefined)) {
    return `${at}: ${show(e.value)} is not allowed (use one of ${(schema.anyOf as TSchema[]).map((s) => s.const).join(', ')})`;
  }
  if (schema.const !== undefined) return `${at}: ${show(e.value)} is not allowed (use ${schema.const})`;
  if (e.type === ValueErrorType.ObjectRequiredProperty) return `${at}: is required${schema.description ? ` (${schema.description})` : ''}`;
  if (e.type === ValueErrorType.StringPattern) {
    return `${at}: ${show(e.value)} does not have the expected form${schema.description ? ` (${schema.description})` : ` (pattern ${schema.pattern})`}`;
  }
  return `${at}: ${show(e.value)}: ${e.message.toLowerCase()}`;
}

/** A key that is missing is said once ("is required"), not again as "undefined: expected string". */
function firstPerMissingKey(errors: ValueError[]): ValueError[] {
  const missing = new Set(errors.filter((e) => e.type === ValueErrorType.ObjectRequiredProperty).map((e) => e.path));
  return errors.filter((e) => e.type === ValueErrorType.ObjectRequiredProperty || e.value !== undefined || !missing.has(e.path));
}

function dedupe(lines: string[]): string[] {
  return [...new Set(lines)];
}
