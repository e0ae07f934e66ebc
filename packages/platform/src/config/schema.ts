import { FormatRegistry, Type, type SchemaOptions, type Static, type StaticDecode, type TLiteral, type TSchema, type TUnion } from '@sinclair/typebox';
import { SCOPES } from '../access.js';
import { DURATION_PATTERN, formatDuration, parseDuration } from '../duration.js';

/**
 * The whole configuration of every Vigil role, in one schema. Each section documents its keys
 * with their defaults; `vigil validate FILE` checks a file against it.
 */

/** A duration written as text (`10s`) and decoded into milliseconds. */
export const Duration = (options: { default: string; description: string }) =>
  Type.Transform(Type.String({ pattern: DURATION_PATTERN, 'x-kind': 'duration', ...options }))
    .Decode((text) => parseDuration(text) ?? Number.NaN)
    .Encode((ms) => formatDuration(ms));

// `format: 'regex'` on a string option: a bad pattern is a config error at load naming the key,
// not a crash at start. Registered once here for every schema checked by the config loader.
if (!FormatRegistry.Has('regex')) {
  FormatRegistry.Set('regex', (v) => {
    try {
      new RegExp(v);
      return true;
    } catch {
      return false;
    }
  });
}

const Closed = { additionalProperties: false } as const;
const section = <T extends Record<string, TSchema>>(props: T, description: string) =>
  Type.Object(props, { ...Closed, default: {}, description });


export const Severity = Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')]);
export type Severity = Static<typeof Severity>;

/**
 * A union of string literals, typed as a tuple: TypeBox's decoded type walks unions as tuples,
 * so a plain `[...].map(Type.Literal)` (an array) decoded to `never` and left rule fields untyped.
 */
type Literals<T extends readonly string[]> = { -readonly [K in keyof T]: TLiteral<T[K]> };
const literals = <const T extends readonly string[]>(values: T, options?: SchemaOptions): TUnion<Literals<T>> =>
  Type.Union(values.map((v) => Type.Literal(v)), options) as unknown as TUnion<Literals<T>>;

const LogLevel = literals(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info', description: 'Log level; LOG_LEVEL overrides it.' });

/** One scoped API token of `http.tokens`. */
export const ApiToken = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_.:-]+$', description: 'What the token is called in logs and 403 messages (letters, digits, _ . : -); the secret never is.' }),
    token: Type.String({ minLength: 1, description: 'The secret, from the environment only: ${GRAFANA_TOKEN}.' }),
    scopes: Type.Array(literals(SCOPES), {
      minItems: 1,
      uniqueItems: true,
      description: 'read: the query API and every GET of stored data; write: notify, test sends, silences; ingest: the OTLP and events intake.',
    }),
  },
  Closed,
);

export const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({ default: './data', description: 'Where the embedded engine and local state live; VIGIL_DATA_DIR overrides it.' }),
    log: section({ level: LogLevel }, 'Logging (JSON lines on stdout).'),
    http: section(
      {
        host: Type.String({ default: '127.0.0.1', description: 'Address the HTTP server binds to: an IPv4 or IPv6 address or a host name. Without a token, reads and ingest are open to whoever reaches it.' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'HTTP port; VIGIL_PORT overrides it.' }),
        token: Type.Optional(Type.String({ description: 'API token with every scope (read, write, ingest); give it as ${VIGIL_API_TOKEN}, which also sets it.' })),
        tokens: Type.Array(ApiToken, {
          default: [],
          description: 'More API tokens, each limited to its scopes. With any token configured, only /health, /health/live and /metrics answer without one.',
        }),
      },
      'The HTTP server of every process: /health, /metrics and, for query-api, the API.',
    ),
    kafka: section(
      {
        brokers: Type.Array(Type.String({ pattern: '^[^:\\s]+:\\d+$' }), { minItems: 1, default: ['127.0.0.1:9092'], description: 'Bootstrap brokers; KAFKA_BROKERS (comma-separated) overrides them.' }),
        clientId: Type.String({ default: 'vigil' }),
        encoding: Type.Union([Type.Literal('otlp_proto'), Type.Literal('otlp_json')], { default: 'otlp_proto', description: 'Encoding of OTLP payloads that Vigil produces.' }),
        compression: literals(['none', 'gzip', 'snappy', 'lz4', 'zstd'], {
          default: 'none',
          description: 'Compression of the record batches Vigil produces. Consumers read all five whatever this says (an OpenTelemetry Collector may use any).',
        }),
        partitions: Type.Integer({ minimum: 1, default: 3, description: 'Partitions for topics Vigil creates (changelogs take their source topic\'s count).' }),
        replicationFactor: Type.Integer({
          minimum: -1,
          default: -1,
          description: "Replicas of each topic Vigil creates; -1: the broker's default.replication.factor. 3 on a production cluster.",
        }),
        minInsyncReplicas: Type.Optional(
          Type.Integer({ minimum: 1, description: "min.insync.replicas of topics Vigil creates (2 with 3 replicas: a write is acknowledged by two brokers); absent: the broker's default." }),
        ),
        createTopics: Type.Boolean({
          default: true,
          description: 'Create missing topics at start. false: wait for them (a cluster where topics are provisioned: `vigil topics` creates and checks them).',
        }),
        sessionTimeout: Duration({
          default: '30s',
          description: "How long a consumer may go without a heartbeat before its group gives its partitions to another instance: the longest an instance's death leaves its partitions unserved.",
        }),
        topics: section(
          {
            logs: Type.String({ default: 'otlp_logs' }),
            metrics: Type.String({ default: 'otlp_metrics' }),
            alerts: Type.String({ default: 'vigil.alerts' }),
            dlq: Type.String({ default: 'vigil.dlq' }),
          },
          'Topic names.',
        ),
      },
      'Kafka (distributed roles). The all-in-one process uses an in-process bus instead.',
    ),
    clickhouse: section(
      {
        url: Type.Optional(Type.String({ pattern: '^https?://', description: 'ClickHouse server; unset means the embedded engine under dataDir. CLICKHOUSE_URL overrides it.' })),
        database: Type.String({ default: 'vigil', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }),
        username: Type.String({ default: 'default' }),
        password: Type.Optional(Type.String({ description: 'Give it as ${CLICKHOUSE_PASSWORD}.' })),
        retention: Duration({ default: '30d', description: 'TTL of stored events, metrics and alerts; at least 1h (unless allowShortRetention), at most 3650d.' }),
        allowShortRetention: Type.Boolean({ default: false, description: 'Allow a retention under one hour (tests, demos); otherwise refused, since a typo of 30s for 30d deletes all history.' }),
        cluster: Type.Optional(
          Type.Object(
            {
              name: Type.String({
                pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
                description: "the cluster's name in the servers' remote_servers: letters, digits and _, not starting with a digit",
              }),
              replicaPath: Type.String({
                default: '/clickhouse/tables/{shard}',
                pattern: "^/[^'\\\\]*\\{shard\\}[^'\\\\]*$",
                description: "Keeper path prefix of every table's replicas, starting with / and holding the {shard} macro, without quotes or backslashes; a table's path is <replicaPath>/<database>/<table>_local",
              }),
              replicaName: Type.String({
                default: '{replica}',
                pattern: "^[^'\\\\/]+$",
                description: "each replica's name in that path, usually the {replica} macro; no quotes, backslashes or /",
              }),
            },
            {
              ...Closed,
              description:
                'A ClickHouse cluster (needs url): migrations run ON CLUSTER, each table is a Replicated* table <name>_local on every node under a Distributed table with the usual name, which reads and inserts go through.',
            },
          ),
        ),
      },
      'Storage.',
    ),
    collector: section(
      {
        interval: Duration({ default: '10s', description: 'Host metrics collection interval.' }),
        serviceName: Type.String({ default: 'vigil-collector' }),
        labels: Type.Record(Type.String(), Type.String(), { default: {}, description: 'Resource attributes added to every record (site, environment, ...).' }),
        host: section({ enabled: Type.Boolean({ default: true }) }, 'Host metrics: CPU, memory, filesystem, network, load.'),
        plugins: Type.Array(
          Type.Object(
            {
              type: Type.String({ description: 'Plugin kind: host, file, exec, probe, prometheus, otlp.' }),
              name: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]+$', description: 'Instance name, unique per collector (letters, digits, _ . -); defaults to the type.' })),
            },
            { additionalProperties: true, description: "One plugin instance; its other keys are checked by the plugin's own schema." },
          ),
          { default: [], description: 'Plugin instances this collector runs (besides the host plugin above).' },
        ),
        queue: section(
          {
            maxRecords: Type.Integer({ minimum: 1, default: 10000, description: 'Records held in memory on their way to the bus before they go to the spool.' }),
            maxBatchBytes: Type.Integer({
              minimum: 1024,
              default: 768 * 1024,
              description: "Most bytes of export requests in one send to Kafka (one record batch); keep it under the broker's message.max.bytes (1 MiB by default).",
            }),
          },
          'The in-memory queue in front of the bus.',
        ),
        spool: section(
          {
            dir: Type.Optional(Type.String({ description: 'Where records wait while the bus is unreachable; default <dataDir>/spool.' })),
            maxBytes: Type.Integer({ minimum: 1024, default: 256 * 1024 * 1024, description: 'Size cap; when full the oldest records are dropped and counted.' }),
          },
          'The on-disk spool used while Kafka is unreachable or slow.',
        ),
      },
      'The collector role.',
    ),
    bus: section(
      {
        dir: Type.Optional(Type.String({ description: "Where the all-in-one's durable local log lives; default <dataDir>/bus." })),
        segmentBytes: Type.Integer({ minimum: 64 * 1024, default: 64 * 1024 * 1024, description: 'A log segment file is rolled past this size; whole segments are deleted once every consumer passed them.' }),
        maxPendingBytes: Type.Integer({
          minimum: 1024 * 1024,
          default: 256 * 1024 * 1024,
          description: 'Bytes accepted but not yet stored (the ingest lag on the local log) beyond which the intake answers 429 with Retry-After.',
        }),
        drainTimeout: Duration({ default: '10s', description: 'At stop, how long consumers may take to store what is on the log; what is left stays on disk for the next start.' }),
      },
      "The all-in-one process's bus: a durable log under the data directory in place of Kafka (distributed roles use kafka).",
    ),
    ingest: section(
      {
        groupId: Type.String({ default: 'vigil-ingest' }),
        pipeline: Type.Integer({
          minimum: 1,
          maximum: 16,
          default: 1,
          description:
            'Batches of a partition in hand at once on Kafka: the next is fetched and decoded while earlier ones are inserted; offsets are committed in order behind the inserts. On the embedded engine 2 gained nothing (bench:ingest: same points/s, twice the latency), so 1 by default; for a ClickHouse server that takes concurrent inserts.',
        }),
      },
      'The ingest role: Kafka topics into ClickHouse.',
    ),
    rules: Type.Object(
      {
        groupId: Type.String({ default: 'vigil-rules', description: 'Kafka consumer group of the rules workers.' }),
      },
      {
        additionalProperties: true,
        default: {},
        description:
          'The rules role. Open here: evaluationInterval, rule files, rules of every kind and the rest are checked by the rules package (packages/rules/src/schema.ts, via checkRulesConfig).',
      },
    ),
    notifier: Type.Object(
      {},
      {
        additionalProperties: true,
        default: {},
        description:
          'The notifier role. Open here: receivers, route, templates, silences and the rest are checked by the notifier package (packages/notifier/src/config/schema.ts, via checkNotifierConfig).',
      },
    ),
  },
  Closed,
);

export type VigilConfig = StaticDecode<typeof ConfigSchema>;
