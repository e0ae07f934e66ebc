#!/usr/bin/env node
/**
 * Builds dist/vigil-collector.mjs: the `vigil` command for collectors, an entry file with its chunks beside it.
 *
 *   pnpm build:collector
 *   node dist/vigil-collector.mjs collector --config /etc/vigil/collector.yaml
 *   node dist/vigil-collector.mjs validate /etc/vigil/collector.yaml
 *
 * Why: run through tsx, a collector carries the TypeScript loader and compiles its sources at
 * every start (~70 MiB before Vigil's own code). The bundle is plain JavaScript run by plain
 * node, and holds the collector alone: the other roles' packages (and the notifier's provider
 * SDKs, 7 MiB of twilio among them) are replaced by a stub that says to use the full `vigil`
 * command. So `collector`, `parse` and `version` run from it; `validate` and the other roles
 * need packages/cli/bin/vigil.mjs (the systemd unit validates with it before each start).
 *
 * The bundle stays in the checkout's dist/: files read at run time (the built-in rule packs, the
 * OTLP .proto files) are found where they are in the sources, and native packages (chdb) are
 * loaded from node_modules only by the roles that need them.
 *
 * esbuild is the one tsx brings (resolved through it), so no new dependency is installed.
 */
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = resolve(REPO, 'dist/vigil-collector.mjs');
const requireFromTsx = createRequire(createRequire(resolve(REPO, 'package.json')).resolve('tsx/package.json'));
const esbuild = requireFromTsx('esbuild');

/** Native addons and what must be resolved at run time from node_modules. */
const EXTERNAL = ['chdb', 'chdb/*'];
/** Role packages a collector never loads (packages/cli/src/process.ts and main.ts import them per role). */
const OTHER_ROLES = ['@vigil/ingest', '@vigil/rules', '@vigil/notifier', '@vigil/query-api'];

/** Each of OTHER_ROLES becomes a module whose every export throws, naming the command to use instead. */
const collectorOnly = {
  name: 'collector-only',
  setup(build) {
    const filter = new RegExp(`^(${OTHER_ROLES.map((p) => p.replace(/[/]/g, '\\/')).join('|')})$`);
    build.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'other-role' }));
    build.onLoad({ filter: /.*/, namespace: 'other-role' }, (args) => ({
      contents: `const missing = () => { throw new Error(${JSON.stringify(
        `${args.path} is not in dist/vigil-collector.mjs, a build of the collector alone: run this command with packages/cli/bin/vigil.mjs`,
      )}); };
export const createIngestRole = missing, createRulesRole = missing, createNotifierRole = missing, registerNotifierApi = missing,
  registerQueryApi = missing, compileRules = missing, effectiveRules = missing, checkNotifierConfig = missing, templateCommand = missing;
export class RuleError extends Error {}
`,
      loader: 'js',
    }));
  },
};

/**
 * `import.meta.url` in a bundled source file would be the bundle's URL: files found relative to
 * their module (rule packs, .proto files, a createRequire base) are resolved from where that
 * module is in the checkout instead.
 */
const sourceUrls = {
  name: 'source-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\/packages\/[^/]+\/src\/.*\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const fromDist = relative(dirname(OUT), args.path).split('\\').join('/');
      return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(fromDist)}, import.meta.url).href`), loader: 'ts' };
    });
  },
};

mkdirSync(dirname(OUT), { recursive: true });
// Chunks of an earlier build (their names carry a hash of their contents).
for (const f of readdirSync(dirname(OUT))) if (/^vigil-collector-.+\.mjs(\.map)?$/.test(f)) rmSync(resolve(dirname(OUT), f));
const started = Date.now();
const result = await esbuild.build({
  stdin: {
    contents: "import { main } from './packages/cli/src/main.ts';\nprocess.exitCode = await main(process.argv.slice(2));\n",
    resolveDir: REPO,
    sourcefile: 'vigil-collector-entry.ts',
    loader: 'ts',
  },
  // What is imported dynamically (the database clients of probes and SQL checks, the roles the
  // collector never runs) goes to chunks beside the entry, read only when imported: the entry and
  // its shared chunk are what a collector parses at start (RSS after loading: 62 MiB, against 90
  // as one 3.6 MiB file; measured 2026-12-01 with MALLOC_ARENA_MAX=2).
  outdir: dirname(OUT),
  entryNames: 'vigil-collector',
  chunkNames: 'vigil-collector-[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  splitting: true,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: EXTERNAL,
  plugins: [collectorOnly, sourceUrls],
  // CommonJS packages inside an ES module bundle call require() for Node's built-ins.
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __vigilCreateRequire } from 'node:module';\nconst require = __vigilCreateRequire(import.meta.url);" },
  legalComments: 'none',
  minify: true,
  // Class and function names stay: errors and logs name them.
  keepNames: true,
  sourcemap: 'linked',
  logLevel: 'warning',
  metafile: true,
});
const outputs = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith('.mjs'));
const bytes = outputs.reduce((n, [, o]) => n + o.bytes, 0);
const entryBytes = statSync(OUT).size;
const inputs = Object.keys(result.metafile.inputs).length;
console.log(
  `${relative(REPO, OUT)}: ${(bytes / 1048576).toFixed(1)} MiB in ${outputs.length} files (entry ${(entryBytes / 1024).toFixed(0)} KiB) from ${inputs} files in ${Date.now() - started} ms`,
);
