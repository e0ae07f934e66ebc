#!/usr/bin/env node
// The `vigil` command. Runs the TypeScript sources through tsx's loader in this same process,
// so signals reach Vigil directly.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
const code = await main(process.argv.slice(2));
process.exitCode = code;
// Everything is stopped and flushed by now, so the process ends on its own. A handle a client
// library leaked (a socket of kafkajs to a broker that was killed) must not keep it running: an
// orchestrator would wait for its kill timeout.
setTimeout(() => {
  process.stderr.write('vigil: stopped, but open handles kept the process alive; exiting\n');
  process.exit(code);
}, 5_000).unref();
