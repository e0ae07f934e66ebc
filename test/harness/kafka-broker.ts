/**
 * Which real Kafka the suite gets: KAFKA_BROKERS when set, else Testcontainers where a Docker
 * engine runs, else Apache Kafka's jars run with the local JDK. No vitest import here, so
 * benchmark scripts can use it too.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dockerAvailable, startKafkaInDocker } from './kafka-docker.js';
import { startKafkaFromJars } from './kafka-jvm.js';

export type KafkaSource = 'env' | 'docker' | 'jars' | 'none';

export interface KafkaBroker {
  /** Comma-separated `host:port` list; empty when `source` is 'none'. */
  brokers: string;
  source: KafkaSource;
  /** Why earlier sources were passed over or failed, in order. */
  notes: string[];
  stop(): Promise<void>;
}

export interface ObtainKafkaOptions {
  env?: NodeJS.ProcessEnv;
  /** Jar cache. Default: `.cache/` at the repo root. */
  cacheDir?: string;
  /** Whether a Docker engine answers; probed with `docker info` when absent. */
  docker?: () => Promise<boolean>;
  log?: (line: string) => void;
}

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_CACHE_DIR = join(REPO_ROOT, '.cache');

const noop = async () => undefined;

/**
 * Never throws: when no broker can be had it returns source 'none' with the reasons in `notes`,
 * and the caller decides whether that is fatal (it is in CI).
 */
export async function obtainKafkaBroker(opts: ObtainKafkaOptions = {}): Promise<KafkaBroker> {
  const env = opts.env ?? process.env;
  const notes: string[] = [];
  const fromEnv = env.KAFKA_BROKERS?.trim();
  if (fromEnv) return { brokers: fromEnv, source: 'env', notes, stop: noop };

  if (await (opts.docker ?? dockerAvailable)()) {
    try {
      const k = await startKafkaInDocker({ log: opts.log });
      return { brokers: k.brokers, source: 'docker', notes, stop: k.stop };
    } catch (err) {
      notes.push(`Docker: ${(err as Error).message}`);
      opts.log?.(`Docker engine found but no Kafka container: ${(err as Error).message}; trying the jars`);
    }
  } else {
    notes.push('Docker: no engine answers `docker info`');
  }

  try {
    const k = await startKafkaFromJars({ cacheDir: opts.cacheDir ?? DEFAULT_CACHE_DIR, log: opts.log });
    return { brokers: k.brokers, source: 'jars', notes, stop: k.stop };
  } catch (err) {
    notes.push(`jars: ${(err as Error).message}`);
  }
  return { brokers: '', source: 'none', notes, stop: noop };
}
