import { fingerprint, logger, type AlertTransition, type RoleContext, type Subscription } from '@vigil/platform';
import type { RuleEngine } from './engine.js';
import { levelOf, thresholdOf, type Severity } from './levels.js';
import type { SqlRule } from './schema.js';
import { INACTIVE, displayState, restoredState, step, type AlertState, type Observation } from './state.js';
import { renderAnnotations } from './template.js';
import { alertTransition } from './transition.js';
import { loadFiringAlerts } from './restore.js';

const log = logger('rules.sql');

/**
 * `kind: sql`: a read-only, parameterised ClickHouse query run on its own interval; each result
 * row is a group (its label columns) with a value compared with the thresholds. Queries run as a
 * subquery with `readonly=1`, `max_execution_time` and `max_result_rows` (`readOnlyQuery`), on
 * exactly one rules worker: the one
 * that consumes the one-partition tick topic (`rules.sql.tickTopic`) in the group
 * `<rules.groupId>.sql`. Every worker produces ticks; Kafka hands them to one consumer, which
 * takes over the sql alerts from the alert history when it becomes that consumer.
 */

export interface SqlRow {
  labels: Record<string, string>;
  value: number | undefined;
}

/** One query result, row by row: the value column and the label columns (given, or every other column). */
export function sqlRows(rows: readonly Record<string, unknown>[], rule: Pick<SqlRule, 'name' | 'value' | 'groupBy' | 'labels'>): SqlRow[] {
  return rows.map((row) => {
    const labels: Record<string, string> = { alertname: rule.name };
    const keys = rule.groupBy ?? Object.keys(row).filter((k) => k !== rule.value);
    for (const k of keys) {
      const v = row[k];
      if (v !== undefined && v !== null && v !== '') labels[k] = typeof v === 'string' ? v : JSON.stringify(v);
    }
    Object.assign(labels, rule.labels);
    const raw = row[rule.value];
    const value = raw === null || raw === undefined || raw === '' ? undefined : Number(raw);
    return { labels, value: value !== undefined && Number.isFinite(value) ? value : undefined };
  });
}

/**
 * The query as it runs: wrapped as a subquery (so it can only be a SELECT) with its limits in the
 * query's own SETTINGS clause, readonly last (once set, no setting may change). Not through
 * `clickhouse_settings`: the embedded engine applies those as SET on its one session, which would
 * make every later query of the process read-only too.
 */
export function readOnlyQuery(query: string, timeoutMs: number, maxRows: number): string {
  const inner = query.trim().replace(/;\s*$/, '');
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  return `SELECT * FROM (\n${inner}\n) SETTINGS max_execution_time = ${seconds}, max_result_rows = ${maxRows}, result_overflow_mode = 'throw', readonly = 1`;
}

/** The parameters a query names (`{now:DateTime64(3)}`), bound from what the runner knows. */
export function queryParams(query: string, p: { now: number; windowMs: number; database: string }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of query.matchAll(/\{(\w+):/g)) {
    const name = m[1]!;
    if (name === 'now') out.now = (p.now / 1000).toFixed(3);
    else if (name === 'window') out.window = p.windowMs;
    else if (name === 'db') out.db = p.database;
  }
  return out;
}

interface SqlGroup {
  labels: Record<string, string>;
  state: AlertState;
  value: number | undefined;
  threshold?: number | undefined;
}

export interface SqlRuleStatus {
  name: string;
  health: 'ok' | 'err' | 'unknown';
  lastError?: string;
  lastEvaluation?: string;
  evaluationMs?: number;
  groups: { labels: Record<string, string>; state: string; severity?: Severity; value?: number }[];
}

export interface SqlRunner {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** After a reload: rules may have changed. */
  reset(): void;
  /** Runs every sql rule now (tests); the tick consumer does it on schedule. */
  runAll(now?: number): Promise<AlertTransition[]>;
  status(): SqlRuleStatus[];
  /** Whether this worker runs the sql rules now (it consumes the tick topic). */
  owner(): boolean;
}

interface RuleRun {
  rule: SqlRule;
  groups: Map<string, SqlGroup>;
  lastRunAt: number;
  health: SqlRuleStatus['health'];
  lastError?: string;
  durationMs?: number;
}

export interface SqlRunnerOptions {
  now: () => number;
  engine: () => RuleEngine;
  emit: (t: AlertTransition[]) => void;
}

export function createSqlRunner(ctx: RoleContext, opts: SqlRunnerOptions): SqlRunner {
  const { bus, storage, config } = ctx;
  const settings = () => opts.engine().options;
  const runs = new Map<string, RuleRun>();
  let subscription: Subscription | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let lastSlot = -Infinity;
  let lastTickAt = -Infinity;
  let running = false;
  let busy: Promise<unknown> = Promise.resolve();
  const rulesSection = config.rules as unknown as { groupId: string; sql?: { tickTopic?: string } };
  const tickTopic = rulesSection.sql?.tickTopic ?? 'vigil.rules.ticks';
  const groupId = `${rulesSection.groupId}.sql`;

  function rules(): SqlRule[] {
    return opts.engine().sql.map((c) => c.rule as SqlRule);
  }

  function runOf(rule: SqlRule): RuleRun {
    let r = runs.get(rule.name);
    if (!r || JSON.stringify(r.rule) !== JSON.stringify(rule)) {
      r = { rule, groups: r?.groups ?? new Map(), lastRunAt: -Infinity, health: 'unknown' };
      runs.set(rule.name, r);
    }
    return r;
  }

  function transition(rule: SqlRule, g: SqlGroup, e: NonNullable<ReturnType<typeof step>['emit']>): AlertTransition {
    const fp = fingerprint(g.labels);
    const annotations = renderAnnotations(rule.annotations, {
      value: e.value,
      unit: rule.unit,
      threshold: g.threshold,
      severity: e.severity,
      rule: rule.name,
      status: e.status,
      expr: 'sql',
      windowMs: rule.window,
      labels: g.labels,
    });
    return alertTransition({ fingerprint: fp, labels: g.labels, annotations, emission: e, rule: rule.name, windowMs: rule.window, unit: rule.unit, threshold: g.threshold, expr: 'sql' });
  }

  /** Applies one result (or a failure: nothing changes) to a rule's groups at `t`. */
  function apply(run: RuleRun, rows: SqlRow[], t: number): AlertTransition[] {
    const out: AlertTransition[] = [];
    const rule = run.rule;
    const flapping = rule.flapping ? { changes: rule.flapping.changes, windowMs: rule.flapping.window } : settings().flapping;
    const opts2 = { forMs: rule.for, keepFiringForMs: rule.keepFiringFor, nodata: rule.nodata, flapping };
    const seen = new Set<string>();
    for (const row of rows) {
      const key = fingerprint(row.labels);
      seen.add(key);
      let g = run.groups.get(key);
      if (!g) {
        g = { labels: row.labels, state: INACTIVE, value: undefined };
        run.groups.set(key, g);
      }
      const current = g.state.phase === 'firing' ? g.state.severity : undefined;
      const level = row.value === undefined ? undefined : levelOf(row.value, rule, current);
      g.value = row.value;
      g.threshold = level ? thresholdOf(rule, level) : undefined;
      const obs: Observation = row.value === undefined ? { kind: 'none' } : { kind: 'value', value: row.value, level };
      const r = step(g.state, obs, opts2, t);
      g.state = r.state;
      if (r.emit) out.push(transition(rule, g, r.emit));
    }
    // A group the query no longer returns: its condition does not hold.
    for (const [key, g] of run.groups) {
      if (seen.has(key)) continue;
      const r = step(g.state, { kind: 'none' }, opts2, t);
      g.state = r.state;
      if (r.emit) out.push(transition(rule, g, r.emit));
      if (g.state.phase === 'inactive') run.groups.delete(key);
    }
    return out;
  }

  async function evaluate(run: RuleRun, t: number): Promise<AlertTransition[]> {
    if (!storage) {
      run.health = 'err';
      run.lastError = 'no ClickHouse: sql rules need the storage (clickhouse.url, or the embedded engine)';
      return [];
    }
    const rule = run.rule;
    const began = performance.now();
    try {
      const rs = await storage.client.query({
        query: readOnlyQuery(rule.query, rule.timeout, rule.maxRows),
        query_params: queryParams(rule.query, { now: t, windowMs: rule.window, database: config.clickhouse.database }),
        format: 'JSONEachRow',
      });
      const rows = await rs.json<Record<string, unknown>>();
      run.health = 'ok';
      delete run.lastError;
      return apply(run, sqlRows(rows, rule), t);
    } catch (err) {
      run.health = 'err';
      run.lastError = (err as Error).message.split('\n')[0]!;
      log.warn({ rule: rule.name, err: run.lastError }, 'sql rule failed; its alerts stay as they are until it runs again');
      return [];
    } finally {
      run.lastRunAt = t;
      run.durationMs = performance.now() - began;
    }
  }

  async function takeOver(): Promise<void> {
    if (!storage) return;
    const names = new Set(rules().map((r) => r.name));
    const firing = (await loadFiringAlerts(storage)).filter((a) => names.has(a.rule));
    for (const a of firing) {
      const run = runOf(rules().find((r) => r.name === a.rule)!);
      // Keyed by fingerprint, as live groups are: the stored labels carry `severity` as well.
      const { severity: _severity, ...labels } = a.labels;
      if (!run.groups.has(a.fingerprint)) run.groups.set(a.fingerprint, { labels, state: restoredState(a.severity, Date.parse(a.startsAt), a.value, opts.now()), value: a.value });
    }
    log.info({ firing: firing.length }, 'this worker runs the sql rules now; took over their firing alerts');
  }

  async function onTick(slot: number): Promise<void> {
    const t = opts.now();
    if (slot <= lastSlot) return;
    lastSlot = slot;
    const gap = t - lastTickAt;
    lastTickAt = t;
    // Just became the tick consumer (or was away): what another worker fired is in the history.
    if (gap > 3 * settings().stepMs) await takeOver().catch((err: Error) => log.warn({ err: err.message }, 'cannot read the sql alerts from the history; they start empty'));
    for (const rule of rules()) {
      const run = runOf(rule);
      if (t - run.lastRunAt < rule.interval) continue;
      opts.emit(await evaluate(run, t));
    }
  }

  async function startTicks(): Promise<void> {
    if (running || rules().length === 0) return;
    running = true;
    await bus.ensureTopics([{ name: tickTopic, partitions: 1 }]);
    const producer = await bus.producer();
    subscription = await bus.subscribe({
      groupId,
      topics: [tickTopic],
      fromBeginning: false,
      handler: async (batch) => {
        let newest = -Infinity;
        for (const r of batch.records) newest = Math.max(newest, Number(r.value.toString()) || 0);
        if (newest > -Infinity) busy = busy.then(() => onTick(newest)).catch((err: Error) => log.warn({ err: err.message }, 'sql rules tick failed'));
        await busy;
      },
    });
    const stepMs = settings().stepMs;
    const send = () => {
      const slot = Math.floor(opts.now() / stepMs) * stepMs;
      producer.send(tickTopic, [{ key: 'tick', value: Buffer.from(String(slot)) }]).catch((err: Error) => log.warn({ topic: tickTopic, err: err.message }, 'cannot send the sql tick'));
    };
    send();
    ticker = setInterval(send, stepMs);
    ticker.unref?.();
  }

  return {
    start: startTicks,
    async stop() {
      running = false;
      if (ticker) clearInterval(ticker);
      await subscription?.stop();
      subscription = undefined;
      await busy;
    },
    reset() {
      for (const name of [...runs.keys()]) if (!rules().some((r) => r.name === name)) runs.delete(name);
      void startTicks().catch((err: Error) => log.warn({ err: err.message }, 'cannot start the sql tick consumer'));
    },
    async runAll(now = opts.now()) {
      const out: AlertTransition[] = [];
      for (const rule of rules()) out.push(...(await evaluate(runOf(rule), now)));
      return out;
    },
    owner: () => opts.now() - lastTickAt < 3 * settings().stepMs,
    status() {
      return rules().map((rule) => {
        const run = runs.get(rule.name);
        return {
          name: rule.name,
          health: run?.health ?? 'unknown',
          ...(run?.lastError ? { lastError: run.lastError } : {}),
          ...(run && run.lastRunAt > -Infinity ? { lastEvaluation: new Date(run.lastRunAt).toISOString(), evaluationMs: run.durationMs } : {}),
          groups: [...(run?.groups.values() ?? [])].map((g) => ({
            labels: g.labels,
            state: displayState(g.state),
            ...(g.state.phase !== 'inactive' ? { severity: g.state.severity } : {}),
            ...(g.value !== undefined ? { value: g.value } : {}),
          })),
        };
      });
    },
  };
}


