import { ConfigError, VIGIL_VERSION, loadConfigFile, logger, parseConfig, type VigilConfig } from '@vigil/platform';
import type { RoleName } from './process.js';

/** Role names, here so that `validate` and `help` do not load every role. */
export const ROLE_NAMES: RoleName[] = ['collector', 'ingest', 'rules', 'notifier', 'query-api'];

const USAGE = `vigil ${VIGIL_VERSION}: self-hosted monitoring pipeline

Usage:
  vigil all-in-one [--config FILE]      everything in one process: collector, in-process bus, embedded ClickHouse,
                                        rules, notifier and query API (what \`pnpm start\` runs)
  vigil collector  [--config FILE]      host metrics and events onto Kafka
  vigil ingest     [--config FILE]      Kafka topics into ClickHouse
  vigil rules      [--config FILE]      rules over metrics and events; alert transitions onto Kafka
                                        (SIGHUP reloads the rules)
  vigil notifier   [--config FILE]      alert transitions to the console and webhooks
  vigil query-api  [--config FILE]      the HTTP API over ClickHouse
  vigil run --roles ROLE,ROLE... [--config FILE]
                                        several roles in one process against Kafka, e.g. a central node
                                        on the embedded engine: --roles ingest,rules,notifier,query-api
  vigil validate FILE                   check a config without running it
  vigil topics [--config FILE] [--check]
                                        create the Kafka topics Vigil uses (partitions, replication factor,
                                        min.insync.replicas, compacted changelogs) and check existing ones;
                                        --check only checks. Exit 1 when a topic is missing or wrong
  vigil parse [--rules default|FILE] [--format text|json] [--multiline-start-pattern REGEX ...] < sample.log
                                        what a rule pack makes of each log line or multiline record (severity, category,
                                        attributes, metrics); --corpus FILE|DIR scores a pack on lines with known answers
  vigil template render --channel KIND --alert sample.json [--config FILE] [--format text|json]
                                        what a channel would send for a sample alert, without sending it
  vigil test rules FILE...              unit tests of rules (input series and events on a virtual clock,
                                        expected alerts), as promtool test rules; non-zero with a diff
  vigil version

Environment: VIGIL_CONFIG (the config file when --config is not given), VIGIL_PORT (HTTP port, default
8080), VIGIL_DATA_DIR (default ./data), KAFKA_BROKERS, CLICKHOUSE_URL, CLICKHOUSE_PASSWORD, VIGIL_API_TOKEN,
LOG_LEVEL.
`;

interface Args {
  command: string | undefined;
  config?: string;
  /** `run --roles a,b`: as given, checked by `parseRoles`. */
  roles?: string;
  /** `topics --check`: check only, create nothing. */
  check?: boolean;
  positional: string[];
}

export function parseArgs(argv: string[]): Args {
  const out: Args = { command: argv[0], positional: [] };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--config' || a === '-c') {
      const v = argv[++i];
      if (!v) throw new UsageError('--config needs a file name');
      out.config = v;
    } else if (a.startsWith('--config=')) out.config = a.slice('--config='.length);
    else if (out.command === 'run' && a === '--roles') {
      const v = argv[++i];
      if (!v) throw new UsageError(`--roles needs a list: --roles ${ROLE_NAMES.join(',')}`);
      out.roles = v;
    } else if (out.command === 'run' && a.startsWith('--roles=')) out.roles = a.slice('--roles='.length);
    else if (out.command === 'topics' && a === '--check') out.check = true;
    // `parse` and `template` have options of their own, checked by their commands.
    else if (a.startsWith('-') && out.command !== 'parse' && out.command !== 'template') throw new UsageError(`unknown option ${a}`);
    else out.positional.push(a);
  }
  return out;
}

class UsageError extends Error {}

/** `--roles ingest,rules`: known role names, each once, in the order given. */
export function parseRoles(list: string | undefined): RoleName[] {
  if (list === undefined) throw new UsageError(`run needs --roles: vigil run --roles ingest,rules,notifier,query-api (roles: ${ROLE_NAMES.join(', ')})`);
  const names = list.split(',').map((r) => r.trim());
  const roles: RoleName[] = [];
  for (const name of names) {
    const role = ROLE_NAMES.find((r) => r === name);
    if (!role) throw new UsageError(`--roles: "${name}" is not a role (use ${ROLE_NAMES.join(', ')}, separated by commas)`);
    if (!roles.includes(role)) roles.push(role);
  }
  return roles;
}

/** The notifier section is open in the platform's schema: receivers are the notifier package's. */
function notifierSummary(notifier: VigilConfig['notifier']): string {
  const { receivers, webhooks } = notifier as Record<string, unknown>;
  return Array.isArray(receivers) && receivers.length > 0 ? `${receivers.length} receiver(s)` : `${Array.isArray(webhooks) ? webhooks.length : 0} webhook(s)`;
}

/** `roles`: whose sections are checked beyond the schema (`validate` checks all). */
async function loadConfig(file: string | undefined, roles: readonly RoleName[] = ROLE_NAMES): Promise<VigilConfig> {
  const config = file ? await loadConfigFile(file) : parseConfig('', { source: 'defaults' });
  await checkRolesConfig(config, file ?? 'defaults', roles);
  return config;
}

/**
 * What the schema alone cannot see: collector plugin options, rule matchers and annotation
 * templates, notifier templates and channels. Only for the roles that run, so that a collector
 * process never loads the rules and notifier packages.
 */
async function checkRolesConfig(config: VigilConfig, source: string, roles: readonly RoleName[]): Promise<void> {
  const problems: string[] = [];
  if (roles.includes('collector')) {
    const { checkCollectorConfig } = await import('@vigil/collector');
    try {
      checkCollectorConfig(config, source);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  }
  if (roles.includes('rules')) {
    const { checkRulesConfig } = await import('@vigil/rules');
    try {
      checkRulesConfig(config, source);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  }
  if (roles.includes('notifier')) {
    const { checkNotifierConfig } = await import('@vigil/notifier');
    try {
      checkNotifierConfig(config, source);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

async function run(config: VigilConfig, mode: 'all-in-one' | 'distributed', roles: RoleName[], configFile?: string): Promise<number> {
  const { runVigil } = await import('./process.js');
  const vigil = await runVigil(config, { mode, roles, ...(configFile ? { configFile } : {}) });
  const url = vigil.url.replace('://127.0.0.1', '://localhost');
  process.stdout.write(`Vigil ${VIGIL_VERSION} (${mode === 'all-in-one' ? 'all-in-one' : roles.join(', ')}) listening on ${url}\n`);
  process.stdout.write(`  health ${url}/health   metrics ${url}/metrics${roles.includes('query-api') ? `   alerts ${url}/api/v1/alerts` : ''}\n`);
  if (mode === 'all-in-one') process.stdout.write(`  data in ${config.dataDir} (Ctrl-C to stop)\n`);
  return new Promise<number>((resolve) => {
    let signals = 0;
    let stopRequested = false;
    const shutdown = (code: number) =>
      vigil.stop().then(
        () => {
          process.stdout.write('stopped\n');
          resolve(code);
        },
        (err: Error) => {
          logger('vigil').error({ err: err.message }, 'shutdown failed');
          resolve(1);
        },
      );
    const onSignal = (sig: NodeJS.Signals) => {
      if (++signals > 1) {
        process.stderr.write(`second ${sig}: exiting without a clean shutdown\n`);
        process.exit(130);
      }
      stopRequested = true;
      process.stdout.write(`${sig}: flushing and stopping...\n`);
      void shutdown(0);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // SIGHUP reloads the rules (the config file's rules section and the rule files), as Prometheus does.
    process.on('SIGHUP', () => {
      const rules = vigil.roles.get('rules') as { reload?: (why: string) => Promise<unknown> } | undefined;
      if (!rules?.reload) return;
      rules.reload('SIGHUP').catch((err: Error) => logger('vigil').error({ err: err.message }, 'rules reload failed'));
    });
    vigil.started.catch((err: Error) => {
      if (stopRequested) return;
      process.stderr.write(`vigil: could not start: ${err.message}\n`);
      stopRequested = true;
      void shutdown(1);
    });
  });
}

export async function main(argv: string[]): Promise<number> {
  try {
    const args = parseArgs(argv);
    // VIGIL_CONFIG: the container image's default config, so `docker run vigil ingest` needs no flag.
    const configFile = args.config ?? (process.env.VIGIL_CONFIG || undefined);
    switch (args.command) {
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return args.command === undefined ? 2 : 0;
      case 'version':
      case '--version':
        process.stdout.write(`${VIGIL_VERSION}\n`);
        return 0;
      case 'validate': {
        const file = args.positional[0] ?? configFile;
        if (!file) throw new UsageError('validate needs a file: vigil validate vigil.yaml');
        const config = await loadConfig(file);
        const { checkRulesConfig } = await import('@vigil/rules');
        const set = checkRulesConfig(config, file);
        const rules = set.rules.length;
        process.stdout.write(`${file}: OK (${rules} rule${rules === 1 ? '' : 's'}${set.settings.defaults ? ', the default pack included' : ''}${set.files.length > 0 ? ` from ${set.files.length} rule file(s) and the config` : ''}; ${notifierSummary(config.notifier)})\n`);
        return 0;
      }
      case 'topics': {
        const { topicsCommand } = await import('./topics.js');
        return await topicsCommand(await loadConfig(configFile, ['rules', 'notifier']), { check: args.check === true });
      }
      case 'parse': {
        const { parseCommand } = await import('@vigil/collector');
        return await parseCommand(argv.slice(1));
      }
      case 'template': {
        const { templateCommand } = await import('@vigil/notifier');
        return await templateCommand(argv.slice(1));
      }
      case 'test': {
        if (args.positional[0] !== 'rules') throw new UsageError('vigil test knows one kind: vigil test rules FILE...');
        const { testRulesCommand } = await import('@vigil/rules');
        return await testRulesCommand(args.positional.slice(1));
      }
      case 'all-in-one':
        return await run(await loadConfig(configFile), 'all-in-one', [...ROLE_NAMES], configFile);
      case 'run': {
        // Several roles in one process on Kafka: with no clickhouse.url, a central node on the embedded engine.
        if (args.positional.length > 0) throw new UsageError(`run takes its roles as --roles ${args.positional.join(',')}, not as arguments`);
        const roles = parseRoles(args.roles);
        return await run(await loadConfig(configFile, roles), 'distributed', roles, configFile);
      }
      default: {
        const role = ROLE_NAMES.find((r) => r === args.command);
        if (!role) throw new UsageError(`unknown command "${args.command}"`);
        return await run(await loadConfig(configFile, [role]), 'distributed', [role], configFile);
      }
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`invalid configuration:\n${err.problems.map((p) => `  ${p}`).join('\n')}\n`);
      return 2;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`vigil: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`vigil: ${(err as Error).message}\n`);
    return 1;
  }
}
