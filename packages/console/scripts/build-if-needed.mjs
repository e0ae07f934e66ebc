// Runs during `pnpm install` (the README's install step): builds the console into dist/ so that
// `pnpm start` serves it at /. The build is skipped when dist/ is newer than every source file.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', 'index.html');

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const sources = Math.max(newest(join(root, 'web')), statSync(join(root, 'vite.config.ts')).mtimeMs, statSync(join(root, 'package.json')).mtimeMs);
if (existsSync(stamp) && statSync(stamp).mtimeMs >= sources && !process.env.VIGIL_CONSOLE_REBUILD) {
  console.log('@vigil/console: dist/ is up to date');
} else {
  console.log('@vigil/console: type-checking and building the web console into dist/');
  const bin = (pkg, file) => join(root, 'node_modules', pkg, 'bin', file);
  execFileSync(process.execPath, [bin('typescript', 'tsc'), '-p', 'tsconfig.web.json'], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [bin('vite', 'vite.js'), 'build', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
}
