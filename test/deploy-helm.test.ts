import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseYamlDocument } from '@vigil/platform';
import { KUBERNETES_VERSION, helm, kubeconform, kubernetesSchemas } from './harness/deploy-tools.js';
import { vigilValidate } from './harness/vigil-validate.js';

/**
 * deploy/helm/vigil without a cluster: `helm lint --strict`, `helm template` of three value sets
 * through kubeconform against the Kubernetes API's JSON schemas (strict: unknown fields refused),
 * and what the chart promises: probes, resources, a PodDisruptionBudget per Deployment, config
 * from a ConfigMap that `vigil validate` accepts, secrets only from a Secret, the collector
 * DaemonSet's read-only host mounts. helm and kubeconform are built once per machine
 * (test/harness/deploy-tools.ts).
 */

const CHART = join(process.cwd(), 'deploy', 'helm', 'vigil');
const ROLES = ['ingest', 'rules', 'notifier', 'query-api'];
const tmp = mkdtempSync(join(tmpdir(), 'vigil-deploy-helm-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const say = (line: string) => process.stderr.write(`[deploy-tools] ${line}\n`);
const tools = { helm: '', kubeconform: '', schemas: '' };

beforeAll(async () => {
  tools.helm = await helm(say);
  tools.kubeconform = await kubeconform(say);
  tools.schemas = await kubernetesSchemas(say);
}, 30 * 60_000);

interface Container {
  name: string;
  image: string;
  args: string[];
  env?: { name: string; valueFrom?: unknown }[];
  envFrom?: { secretRef: { name: string } }[];
  ports: { name: string; containerPort: number; hostPort?: number }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean; capabilities: { drop: string[]; add?: string[] } };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  containers: Container[];
  securityContext: { runAsNonRoot?: boolean; runAsUser?: number };
  volumes: { name: string; configMap?: { name: string }; hostPath?: { path: string }; persistentVolumeClaim?: { claimName: string }; emptyDir?: object }[];
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: {
    replicas?: number;
    selector?: { matchLabels: Record<string, string> } | Record<string, string>;
    strategy?: { type: string };
    template?: { metadata: { labels: Record<string, string> }; spec: PodSpec };
    minAvailable?: number;
    maxUnavailable?: number;
    internalTrafficPolicy?: string;
  };
  data?: Record<string, string>;
}

function helmRun(args: string[]) {
  return spawnSync(tools.helm, args, { encoding: 'utf8', env: { ...process.env, HELM_CACHE_HOME: join(tmp, 'helm-cache'), HELM_CONFIG_HOME: join(tmp, 'helm-config'), HELM_DATA_HOME: join(tmp, 'helm-data') } });
}

function valuesFile(name: string, values: string): string {
  const file = join(tmp, `${name}.yaml`);
  writeFileSync(file, values);
  return file;
}

function template(values?: string): { text: string; docs: Manifest[] } {
  const r = helmRun(['template', 'vigil', CHART, '--namespace', 'monitoring', '--kube-version', KUBERNETES_VERSION, ...(values ? ['--values', values] : [])]);
  expect(r.stderr, 'helm template').toBe('');
  expect(r.status).toBe(0);
  const docs = r.stdout
    .split(/^---$/m)
    .map((d) => parseYamlDocument(d).toJS() as Manifest | null)
    .filter((d): d is Manifest => d !== null);
  return { text: r.stdout, docs };
}

function kubeconformCheck(manifests: string) {
  const r = spawnSync(tools.kubeconform, ['-schema-location', tools.schemas, '-kubernetes-version', KUBERNETES_VERSION, '-strict', '-summary', '-output', 'json', '-'], { input: manifests, encoding: 'utf8' });
  const report = JSON.parse(r.stdout) as { resources: { kind: string; name: string; status: string; msg: string }[]; summary: { valid: number; invalid: number; errors: number; skipped: number } };
  return { code: r.status, report };
}

const CENTRAL = `
central:
  enabled: true
  persistence: { size: 5Gi, storageClass: fast }
collector:
  otlp: { hostPort: 4318 }
  labels: { site: store-12 }
secrets:
  env:
    VIGIL_API_TOKEN: token-from-values-0123
    SMTP_PASSWORD: smtp-from-values-4567
config:
  notifier:
    receivers:
      - name: ops
        webhook: [{ url: "https://hooks.example.test/ops", headers: { Authorization: "Bearer \${HOOK_TOKEN}" } }]
        email: [{ host: smtp.example.test, from: "Vigil <vigil@example.test>", to: [oncall@example.test], user: vigil, password: "\${SMTP_PASSWORD}" }]
`;

const CUSTOM = `
image: { repository: registry.example.test/vigil, tag: 0.1.0-rc1 }
secrets: { existingSecret: vigil-secrets }
roles:
  ingest: { replicas: 3, pdb: { enabled: true, minAvailable: 2 } }
  rules: { enabled: false }
  query-api: { pdb: { minAvailable: null, maxUnavailable: 1 } }
service: { type: LoadBalancer, port: 80 }
collector:
  hostMetrics: false
  logs: { enabled: false }
  podSecurityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001 }
  securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: [ALL] } }
kafka: { brokers: [kafka-0.kafka:9092, kafka-1.kafka:9092], partitions: 12 }
`;

describe('deploy/helm/vigil', () => {
  it('passes helm lint --strict, with the defaults and with each value set', () => {
    for (const values of [undefined, valuesFile('central', CENTRAL), valuesFile('custom', CUSTOM)]) {
      const r = helmRun(['lint', '--strict', '--kube-version', KUBERNETES_VERSION, CHART, ...(values ? ['--values', values] : [])]);
      expect(`${r.stdout}${r.stderr}`, values ?? 'defaults').toContain('1 chart(s) linted, 0 chart(s) failed');
      expect(r.status).toBe(0);
    }
  });

  it.each([
    ['defaults', undefined],
    ['central', CENTRAL],
    ['custom', CUSTOM],
  ])(`renders (%s) manifests that kubeconform accepts against Kubernetes ${KUBERNETES_VERSION}'s schemas, strictly`, (name, values) => {
    const { text, docs } = template(values ? valuesFile(name, values) : undefined);
    const { code, report } = kubeconformCheck(text);
    expect(report.resources.filter((r) => r.status !== 'statusValid'), JSON.stringify(report.resources, null, 2)).toEqual([]);
    expect(report.summary).toEqual({ valid: docs.length, invalid: 0, errors: 0, skipped: 0 });
    expect(code).toBe(0);
  });

  it('kubeconform has teeth: a misspelt probe and a string replica count are refused', () => {
    const { text } = template();
    const broken = text.replace('readinessProbe:', 'readinesProbe:').replace(/replicas: 2/, 'replicas: "2"');
    const { code, report } = kubeconformCheck(broken);
    expect(code).not.toBe(0);
    const messages = report.resources.filter((r) => r.status === 'statusInvalid').map((r) => r.msg).join('\n');
    expect(messages).toContain("additional properties 'readinesProbe' not allowed");
    expect(messages).toContain('got string, want integer');
  });

  describe('with the defaults (distributed)', () => {
    let docs: Manifest[];
    const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
    beforeAll(() => {
      docs = template().docs;
    });

    it.each(ROLES)('runs %s as a Deployment with replicas, probes on /health/live and /health, resources, a hardened container', (role) => {
      const d = find('Deployment', `vigil-${role}`)!;
      expect(d, role).toBeDefined();
      expect(d.spec!.replicas).toBe(role === 'query-api' ? 2 : 1);
      const pod = d.spec!.template!.spec;
      const c = pod.containers[0]!;
      expect(c.args).toEqual([role, '--config', '/etc/vigil/vigil.yaml']);
      expect(c.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
      expect(c.readinessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
      expect(c.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
      expect(Object.keys(c.resources.requests).sort()).toEqual(['cpu', 'memory']);
      expect(Object.keys(c.resources.limits).sort()).toEqual(['cpu', 'memory']);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
      expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      // Config from the ConfigMap, secrets from the Secret.
      expect(pod.volumes.find((v) => v.name === 'config')!.configMap!.name).toBe('vigil');
      expect(c.volumeMounts).toEqual(expect.arrayContaining([{ name: 'config', mountPath: '/etc/vigil', readOnly: true }, { name: 'tmp', mountPath: '/tmp' }]));
      expect(c.envFrom).toEqual([{ secretRef: { name: 'vigil' } }]);
    });

    it.each(ROLES)('gives %s a PodDisruptionBudget over exactly its pods', (role) => {
      const d = find('Deployment', `vigil-${role}`)!;
      const pdb = find('PodDisruptionBudget', `vigil-${role}`)!;
      expect(pdb.apiVersion).toBe('policy/v1');
      expect(pdb.spec!.selector).toEqual(d.spec!.selector);
      expect(d.spec!.template!.metadata.labels).toMatchObject((d.spec!.selector as { matchLabels: Record<string, string> }).matchLabels);
      expect(pdb.spec!.minAvailable ?? pdb.spec!.maxUnavailable).toBe(1);
    });

    it('runs the collector as a DaemonSet with the node\'s /proc, /sys, / and /var/log read-only, and its state on the node', () => {
      const ds = find('DaemonSet', 'vigil-collector')!;
      const pod = ds.spec!.template!.spec;
      const c = pod.containers[0]!;
      expect(c.args).toEqual(['collector', '--config', '/etc/vigil/collector.yaml']);
      const hostPaths = Object.fromEntries(pod.volumes.filter((v) => v.hostPath).map((v) => [v.name, v.hostPath!.path]));
      expect(hostPaths).toEqual({ proc: '/proc', sys: '/sys', root: '/', varlog: '/var/log', 'machine-id': '/etc/machine-id', state: '/var/lib/vigil-collector' });
      const mount = (name: string) => c.volumeMounts.find((m) => m.name === name)!;
      expect(mount('proc')).toMatchObject({ mountPath: '/host/proc', readOnly: true });
      expect(mount('sys')).toMatchObject({ mountPath: '/host/sys', readOnly: true });
      expect(mount('root')).toMatchObject({ mountPath: '/host/root', readOnly: true, mountPropagation: 'HostToContainer' });
      expect(mount('varlog')).toMatchObject({ mountPath: '/var/log', readOnly: true });
      // The only writable host path is the collector's own state directory.
      for (const m of c.volumeMounts.filter((m) => hostPaths[m.name] !== undefined && m.name !== 'state')) expect(m.readOnly, m.name).toBe(true);
      expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: ['DAC_READ_SEARCH'] } });
      expect(c.env).toEqual([{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }]);
      expect(c.livenessProbe.httpGet.path).toBe('/health/live');
      expect(c.readinessProbe.httpGet.path).toBe('/health');
      expect(find('Service', 'vigil-collector')!.spec!.internalTrafficPolicy).toBe('Local');
    });

    it('writes config files that vigil validate accepts', async () => {
      const cm = find('ConfigMap', 'vigil')!;
      expect(Object.keys(cm.data!).sort()).toEqual(['collector.yaml', 'vigil.yaml']);
      for (const [key, text] of Object.entries(cm.data!)) {
        const file = join(tmp, `default-${key}`);
        writeFileSync(file, text);
        const r = await vigilValidate(file, { NODE_NAME: 'node-1' });
        expect(r.stderr, key).toBe('');
        expect(r.code, key).toBe(0);
      }
      const collector = parseYamlDocument(cm.data!['collector.yaml']!).toJS() as { collector: { plugins: { type: string; procfs?: string; rootfs?: string }[] } };
      expect(collector.collector.plugins.find((p) => p.type === 'host')).toEqual({ type: 'host', procfs: '/host/proc', rootfs: '/host/root' });
    });
  });

  describe('central node, secrets in values', () => {
    let docs: Manifest[];
    let text: string;
    const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
    beforeAll(() => {
      ({ docs, text } = template(valuesFile('central', CENTRAL)));
    });

    it('runs the roles in one pod on the embedded engine, on a volume claim, and no Deployment per role', () => {
      const d = find('Deployment', 'vigil-central')!;
      expect(d.spec!.replicas).toBe(1);
      expect(d.spec!.strategy).toEqual({ type: 'Recreate' });
      const pod = d.spec!.template!.spec;
      expect(pod.containers[0]!.args).toEqual(['run', '--roles', 'ingest,rules,notifier,query-api', '--config', '/etc/vigil/central.yaml']);
      expect(pod.volumes.find((v) => v.name === 'data')!.persistentVolumeClaim).toEqual({ claimName: 'vigil-central' });
      expect(find('PersistentVolumeClaim', 'vigil-central')).toBeDefined();
      expect(docs.filter((x) => x.kind === 'Deployment').map((x) => x.metadata.name)).toEqual(['vigil-central']);
      // Clients reach the query API by the same name in both shapes.
      expect(find('Service', 'vigil-query-api')!.spec!.selector).toEqual((d.spec!.selector as { matchLabels: Record<string, string> }).matchLabels);
    });

    it('its config has no ClickHouse server and is valid', async () => {
      const central = find('ConfigMap', 'vigil')!.data!['central.yaml']!;
      expect((parseYamlDocument(central).toJS() as { clickhouse?: { url?: string } }).clickhouse?.url).toBeUndefined();
      const file = join(tmp, 'central.yaml');
      writeFileSync(file, central);
      const r = await vigilValidate(file, { HOOK_TOKEN: 'x', SMTP_PASSWORD: 'y' });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    });

    it('puts secrets in the Secret only, never in the ConfigMap', () => {
      const secret = find('Secret', 'vigil')!;
      expect(Object.keys(secret.data!).sort()).toEqual(['SMTP_PASSWORD', 'VIGIL_API_TOKEN']);
      expect(Buffer.from(secret.data!.VIGIL_API_TOKEN!, 'base64').toString()).toBe('token-from-values-0123');
      const configMaps = JSON.stringify(docs.filter((d) => d.kind === 'ConfigMap'));
      expect(configMaps).not.toContain('token-from-values-0123');
      expect(configMaps).not.toContain('smtp-from-values-4567');
      expect(configMaps).toContain('Bearer ${HOOK_TOKEN}');
      expect(text.match(/token-from-values-0123/g) ?? []).toEqual([]);
    });

    it("opens the collector's OTLP port on the node when asked", () => {
      const c = find('DaemonSet', 'vigil-collector')!.spec!.template!.spec.containers[0]!;
      expect(c.ports.find((p) => p.name === 'otlp-http')).toMatchObject({ containerPort: 4318, hostPort: 4318 });
    });
  });

  it('with an existing Secret, creates none and every pod reads it', () => {
    const { docs } = template(valuesFile('custom', CUSTOM));
    expect(docs.filter((d) => d.kind === 'Secret')).toEqual([]);
    const workloads = docs.filter((d) => d.kind === 'Deployment' || d.kind === 'DaemonSet');
    expect(workloads.map((d) => d.metadata.name).sort()).toEqual(['vigil-collector', 'vigil-ingest', 'vigil-notifier', 'vigil-query-api']);
    for (const w of workloads) expect(w.spec!.template!.spec.containers[0]!.envFrom, w.metadata.name).toEqual([{ secretRef: { name: 'vigil-secrets' } }]);
    expect(docs.find((d) => d.metadata.name === 'vigil-ingest' && d.kind === 'Deployment')!.spec!.replicas).toBe(3);
    expect(docs.find((d) => d.metadata.name === 'vigil-ingest' && d.kind === 'PodDisruptionBudget')!.spec).toMatchObject({ minAvailable: 2 });
    // A role's PDB policy switched by setting the chart's default one to null.
    const pdb = docs.find((d) => d.metadata.name === 'vigil-query-api' && d.kind === 'PodDisruptionBudget')!.spec!;
    expect([pdb.minAvailable, pdb.maxUnavailable]).toEqual([undefined, 1]);
    const ds = docs.find((d) => d.kind === 'DaemonSet')!.spec!.template!.spec;
    expect(ds.volumes.filter((v) => v.hostPath).map((v) => v.name).sort()).toEqual(['machine-id', 'state']);
    expect(ds.containers[0]!.image).toBe('registry.example.test/vigil:0.1.0-rc1');
  });

  it.each([
    ['secrets.env with a name that is no variable', 'secrets: { env: { "bad-name": x } }', 'secrets.env: "bad-name" is not an environment variable name'],
    ['an unknown central role', 'central: { enabled: true, roles: [ingest, bogus] }', 'central.roles: "bogus" is not a role (use ingest, rules, notifier, query-api, collector)'],
    ['a PDB with both policies', 'roles: { query-api: { pdb: { maxUnavailable: 1 } } }', 'roles.query-api.pdb: minAvailable and maxUnavailable are both set; keep one and set the other to null'],
  ])('refuses %s, saying what is wrong', (name, values, message) => {
    const r = helmRun(['template', 'vigil', CHART, '--kube-version', KUBERNETES_VERSION, '--values', valuesFile(name.replace(/\W+/g, '-'), values)]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(message);
  });
});
