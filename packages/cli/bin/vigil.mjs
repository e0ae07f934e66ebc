#!/usr/bin/env node
// The `vigil` command. Runs the TypeScript sources through tsx's loader in this same process,
// so signals reach Vigil directly.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
