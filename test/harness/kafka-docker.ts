/**
 * Apache Kafka in a container through Testcontainers, for machines where a Docker engine runs.
 * `testcontainers` is not a dependency of the repo: it is imported dynamically and, when it is
 * missing, the harness falls back to the jars (see kafka-broker.ts).
 */
import { execFile } from 'node:child_process';
import { KAFKA_VERSION, brokerSettings, freePort } from './kafka-jvm.js';
import { waitForKafka } from './kafka-ready.js';

/** True when `docker info` reaches an engine within the timeout (a client alone is not enough). */
export function dockerAvailable(timeoutMs = 5_000): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: timeoutMs }, (error, stdout) => {
      resolve(!error && stdout.trim().length > 0);
    });
  });
}

/** The apache/kafka image's configuration: every KAFKA_FOO_BAR variable becomes foo.bar. */
export function containerEnvironment(settings: [string, string][]): Record<string, string> {
  return Object.fromEntries(settings.map(([k, v]) => [`KAFKA_${k.toUpperCase().replaceAll('.', '_')}`, v]));
}

// The slice of the testcontainers API used here, so the rest stays typed without the package.
interface StartedContainer {
  stop(): Promise<unknown>;
}
interface ContainerBuilder {
  withExposedPorts(...ports: { container: number; host: number }[]): ContainerBuilder;
  withEnvironment(env: Record<string, string>): ContainerBuilder;
  withStartupTimeout(ms: number): ContainerBuilder;
  start(): Promise<StartedContainer>;
}
interface TestcontainersModule {
  GenericContainer: new (image: string) => ContainerBuilder;
}

export async function startKafkaInDocker(opts: { image?: string; startTimeoutMs?: number; log?: (line: string) => void } = {}): Promise<{ brokers: string; stop(): Promise<void> }> {
  const specifier = 'testcontainers';
  let tc: TestcontainersModule;
  try {
    tc = (await import(specifier)) as TestcontainersModule;
  } catch (err) {
    throw new Error(`a Docker engine runs but the "testcontainers" package cannot be loaded (${(err as Error).message}); add it with \`pnpm add -Dw testcontainers\` to use Docker`);
  }
  const image = opts.image ?? `apache/kafka:${KAFKA_VERSION}`;
  // The same port inside and outside, so the advertised 127.0.0.1:<port> works on both sides.
  const port = await freePort();
  let controllerPort = await freePort();
  while (controllerPort === port) controllerPort = await freePort();
  const timeoutMs = opts.startTimeoutMs ?? 180_000;
  opts.log?.(`starting ${image} on 127.0.0.1:${port} with Testcontainers`);
  const container = await new tc.GenericContainer(image)
    .withExposedPorts({ container: port, host: port })
    .withEnvironment(containerEnvironment(brokerSettings({ port, controllerPort }, { bindHost: '0.0.0.0' })))
    .withStartupTimeout(timeoutMs)
    .start();
  const brokers = `127.0.0.1:${port}`;
  try {
    await waitForKafka([brokers], { timeoutMs });
  } catch (err) {
    await container.stop().catch(() => undefined);
    throw new Error(`Kafka container ${image} on ${brokers} did not become ready: ${(err as Error).message}`);
  }
  return { brokers, stop: async () => void (await container.stop()) };
}
