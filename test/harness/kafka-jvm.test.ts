import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { dirname } from 'node:path';
import { containerEnvironment } from './kafka-docker.js';
import { DEFAULT_CACHE_DIR, obtainKafkaBroker } from './kafka-broker.js';
import { KAFKA_VERSION, brokerSettings, freePort, kafkaJarsPom, newClusterId, serverProperties, startKafkaFromJars } from './kafka-jvm.js';
import { waitForKafka } from './kafka-ready.js';

function parseProperties(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });
}

describe('broker settings', () => {
  it('describe a single-node KRaft broker on loopback with the given ports and log dir', () => {
    const props = parseProperties(serverProperties({ port: 41001, controllerPort: 41002 }, '/tmp/x/data'));
    expect(props).toEqual({
      'process.roles': 'broker,controller',
      'node.id': '1',
      'controller.quorum.voters': '1@127.0.0.1:41002',
      listeners: 'PLAINTEXT://127.0.0.1:41001,CONTROLLER://127.0.0.1:41002',
      'advertised.listeners': 'PLAINTEXT://127.0.0.1:41001',
      'controller.listener.names': 'CONTROLLER',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'inter.broker.listener.name': 'PLAINTEXT',
      'log.dirs': '/tmp/x/data',
      'num.partitions': '3',
      'offsets.topic.replication.factor': '1',
      'transaction.state.log.replication.factor': '1',
      'transaction.state.log.min.isr': '1',
      'group.initial.rebalance.delay.ms': '0',
      'auto.create.topics.enable': 'true',
    });
  });

  it('describe a node of a three-node cluster: its own id, every voter, three replicas and two in sync by default, still loopback only', () => {
    const voters = [
      { nodeId: 1, controllerPort: 41002 },
      { nodeId: 2, controllerPort: 41004 },
      { nodeId: 3, controllerPort: 41006 },
    ];
    const props = parseProperties(serverProperties({ port: 41003, controllerPort: 41004 }, '/tmp/x/node-2/data', { nodeId: 2, voters }));
    expect(props['node.id']).toBe('2');
    expect(props['controller.quorum.voters']).toBe('1@127.0.0.1:41002,2@127.0.0.1:41004,3@127.0.0.1:41006');
    expect(props.listeners).toBe('PLAINTEXT://127.0.0.1:41003,CONTROLLER://127.0.0.1:41004');
    expect(props['advertised.listeners']).toBe('PLAINTEXT://127.0.0.1:41003');
    expect(props['default.replication.factor']).toBe('3');
    expect(props['min.insync.replicas']).toBe('2');
    expect(props['offsets.topic.replication.factor']).toBe('3');
    expect(props['transaction.state.log.min.isr']).toBe('2');
  });

  it('write backslashes in the log dir as slashes (properties files read them as escapes)', () => {
    expect(parseProperties(serverProperties({ port: 1, controllerPort: 2 }, 'C:\\kafka\\data'))['log.dirs']).toBe('C:/kafka/data');
  });

  it('become apache/kafka container variables, bound on all interfaces, still advertised on loopback', () => {
    const env = containerEnvironment(brokerSettings({ port: 41001, controllerPort: 41002 }, { bindHost: '0.0.0.0' }));
    expect(env.KAFKA_LISTENERS).toBe('PLAINTEXT://0.0.0.0:41001,CONTROLLER://0.0.0.0:41002');
    expect(env.KAFKA_ADVERTISED_LISTENERS).toBe('PLAINTEXT://127.0.0.1:41001');
    expect(env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR).toBe('1');
    expect(env.KAFKA_NODE_ID).toBe('1');
    expect(env.KAFKA_LOG_DIRS).toBeUndefined();
  });

  it('fetch the pinned broker and its slf4j binding with Maven', () => {
    const pom = kafkaJarsPom(KAFKA_VERSION);
    expect(pom).toContain(`<artifactId>kafka_2.13</artifactId><version>${KAFKA_VERSION}</version>`);
    expect(pom).toContain('<artifactId>slf4j-simple</artifactId>');
  });
});

describe('newClusterId', () => {
  it('is 16 random bytes as unpadded URL-safe base64', () => {
    const id = newClusterId();
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(Buffer.from(id, 'base64url')).toHaveLength(16);
    expect(newClusterId()).not.toBe(id);
  });

  it('never starts with "-", which the storage tool would read as an option', () => {
    const draws = [Buffer.from([0xf8, ...Array<number>(15).fill(0)]), Buffer.from([0x10, ...Array<number>(15).fill(7)])];
    expect(draws[0]!.toString('base64url').startsWith('-')).toBe(true);
    const id = newClusterId(() => draws.shift()!);
    expect(id).toBe(Buffer.from([0x10, ...Array<number>(15).fill(7)]).toString('base64url'));
  });
});

describe('freePort', () => {
  it('returns a loopback port that can be bound right away', async () => {
    const port = await freePort();
    const srv = createServer();
    await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(port, '127.0.0.1', resolve));
    await new Promise((r) => srv.close(r));
    expect(port).toBeGreaterThan(0);
  });
});

describe('waitForKafka', () => {
  it('gives up at the deadline and names the brokers it tried', async () => {
    const port = await freePort();
    const t0 = Date.now();
    await expect(waitForKafka([`127.0.0.1:${port}`], { timeoutMs: 600, intervalMs: 100 })).rejects.toThrow(`no answer from 127.0.0.1:${port} within 600 ms`);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('stops at once when the broker process is gone', async () => {
    const port = await freePort();
    await expect(waitForKafka([`127.0.0.1:${port}`], { timeoutMs: 60_000, gone: () => 'the broker process exited (code 1)' })).rejects.toThrow(
      'the broker process exited (code 1)',
    );
  });
});

describe('obtainKafkaBroker', () => {
  it('uses KAFKA_BROKERS as is, without probing Docker or starting anything', async () => {
    const k = await obtainKafkaBroker({
      env: { KAFKA_BROKERS: ' 10.0.0.1:9092,10.0.0.2:9092 ' },
      docker: () => Promise.reject(new Error('Docker must not be probed when KAFKA_BROKERS is set')),
    });
    expect(k).toMatchObject({ brokers: '10.0.0.1:9092,10.0.0.2:9092', source: 'env' });
  });
});

describe('startKafkaFromJars', () => {
  it('runs a broker that answers, and stop() ends it and removes its files', async () => {
    const k = await startKafkaFromJars({ cacheDir: DEFAULT_CACHE_DIR, heapMb: 256 });
    const port = Number(k.brokers.split(':')[1]);
    try {
      expect(k.brokers).toMatch(/^127\.0\.0\.1:\d+$/);
      await waitForKafka([k.brokers], { timeoutMs: 5_000 });
      expect(existsSync(k.logFile)).toBe(true);
    } finally {
      await k.stop();
    }
    expect(existsSync(dirname(k.logFile))).toBe(false);
    expect(await refused(port)).toBe(true);
    // Idempotent.
    await k.stop();
  }, 180_000);
});
