import { Type } from '@sinclair/typebox';
import { Duration } from '@vigil/platform';
import { definePlugin } from '../../plugin.js';
import { MetricAggregator, loadRulePack, registerParsedMetrics } from '../../parse/index.js';
import { MultilineSchema } from './multiline.js';
import { Tailer, type TailerOptions } from './tailer.js';

export { Tailer, type TailerOptions, type TailerStats } from './tailer.js';

export const FileOptions = Type.Object(
  {
    include: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description: 'Glob patterns of the files to tail (absolute, or relative to the working directory).',
      examples: [['/var/log/app/*.log']],
    }),
    exclude: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'Glob patterns of files not to tail, even if included.', examples: [['/var/log/app/*.gz']] }),
    startAt: Type.Union([Type.Literal('end'), Type.Literal('beginning')], {
      default: 'end',
      description: 'Where to start files found at the first scan that no checkpoint knows. Files that appear later are always read from their beginning.',
    }),
    pollInterval: Duration({ default: '250ms', description: 'How often the files are checked for new lines, renames and truncation.' }),
    refreshInterval: Duration({
      default: '1s',
      description: 'How often the globs are expanded to find new files (at once, too, when a known path leads to another file: a rotation).',
    }),
    fingerprintBytes: Type.Integer({
      minimum: 16,
      maximum: 65536,
      default: 1024,
      description: 'A file is recognised by a hash of this many leading bytes (not by its name), so renamed and copied files are followed.',
    }),
    maxLineBytes: Type.Integer({
      minimum: 16,
      maximum: 16 * 1024 * 1024,
      default: 65536,
      description: 'Longer lines (and multiline records) are cut to this size and get the attribute log.truncated=true.',
    }),
    encoding: Type.Union([Type.Literal('utf8'), Type.Literal('latin1'), Type.Literal('ascii')], {
      default: 'utf8',
      description: 'Text encoding of the files. Invalid UTF-8 becomes U+FFFD.',
    }),
    multiline: Type.Optional(MultilineSchema),
    attributes: Type.Record(Type.String(), Type.String(), { default: {}, description: 'Attributes added to every record of this instance.', examples: [{ 'service.name': 'shop' }] }),
    batchSize: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000, description: 'Most records in one OTLP request (which also holds at most 128 KiB of line text).' }),
    batchWait: Duration({ default: '200ms', description: 'A batch that is not full is sent once its oldest record has waited this long.' }),
    rotateWait: Duration({ default: '5s', description: 'A renamed or deleted file is kept open and read until it has not grown for this long.' }),
    forceFlushPeriod: Duration({ default: '1s', description: 'A last line without a newline is emitted once the file has not grown for this long; 0s waits for the newline.' }),
    parser: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Rule pack that turns lines into structured records (JSON lines, regex rules setting severity, attributes, metrics): a built-in name (default, plain) or a rules file. Unset: each line is the body, severity unset.',
        examples: ['default'],
      }),
    ),
  },
  { additionalProperties: false },
);

/**
 * `type: file`: tails log files by glob and ships each line (or multiline record) as an OTLP log
 * record with log.file.path and log.file.name. Offsets are checkpointed per file once the records
 * are durable, so a restart neither loses nor (beyond the unacknowledged tail) repeats lines.
 */
export const filePlugin = definePlugin({
  type: 'file',
  description: 'Tails log files matched by globs, following renames and truncation, with checkpoints.',
  schema: FileOptions,
  create(options, ctx) {
    // A bad rules file is a ConfigError here, naming the file and rule.
    const parser = options.parser === undefined ? undefined : loadRulePack(options.parser);
    const aggregator = new MetricAggregator();
    const opts: TailerOptions = {
      include: options.include,
      exclude: options.exclude,
      startAt: options.startAt,
      pollInterval: options.pollInterval,
      refreshInterval: options.refreshInterval,
      fingerprintBytes: options.fingerprintBytes,
      maxLineBytes: options.maxLineBytes,
      encoding: options.encoding,
      multiline: options.multiline && {
        startPattern: new RegExp(options.multiline.startPattern),
        flushTimeout: options.multiline.flushTimeout,
        maxLines: options.multiline.maxLines,
      },
      attributes: options.attributes,
      batchSize: options.batchSize,
      batchWait: options.batchWait,
      rotateWait: options.rotateWait,
      forceFlushPeriod: options.forceFlushPeriod,
      parse: parser
        ? (text, attributes) => {
            const { record, metrics } = parser.parse(text, { attributes });
            if (metrics.length > 0) aggregator.updateAll(metrics);
            return record;
          }
        : undefined,
    };
    const tailer = new Tailer(opts, { logs: (records) => ctx.logs(records), stateDir: () => ctx.stateDir() });
    const s = tailer.stats;
    const attrs = { plugin: ctx.name };
    const meter = ctx.telemetry.meter;
    // Observed from the running totals: the hot path only increments plain numbers.
    meter.createObservableCounter('vigil_collector_file_lines', { description: 'Lines read from tailed files.' }).addCallback((o) => o.observe(s.linesRead, attrs));
    meter.createObservableCounter('vigil_collector_file_records_shipped', { description: 'Records from tailed files acknowledged by the shipper.' }).addCallback((o) => o.observe(s.recordsShipped, attrs));
    meter.createObservableCounter('vigil_collector_file_truncated_lines', { description: 'Lines cut at maxLineBytes.' }).addCallback((o) => o.observe(s.truncated, attrs));
    meter.createObservableCounter('vigil_collector_file_rotations', { description: 'Files renamed away, deleted or truncated while tailed.' }).addCallback((o) => o.observe(s.rotations, attrs));
    meter.createObservableCounter('vigil_collector_file_send_failures', { description: 'Batches the shipper did not accept (retried).' }).addCallback((o) => o.observe(s.sendFailures, attrs));
    meter.createObservableGauge('vigil_collector_file_open_files', { description: 'Files being tailed.' }).addCallback((o) => o.observe(s.openFiles, attrs));
    ctx.health.register(`file:${ctx.name}`, () => ({
      status: 'up',
      detail: `${s.openFiles} files open, ${s.linesRead} lines read, ${s.recordsShipped} records shipped${s.lastError ? `; last error: ${s.lastError}` : ''}`,
    }));
    let unregister: (() => void) | undefined;
    return {
      async start() {
        if (parser) unregister = registerParsedMetrics(ctx.meter, aggregator);
        await tailer.start(ctx.signal);
      },
      async stop() {
        await tailer.stop();
        unregister?.();
      },
    };
  },
});
