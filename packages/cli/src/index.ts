export { main, parseArgs } from './main.js';
export { runVigil, ROLE_NAMES, type RoleName, type RunningVigil, type RunOptions } from './process.js';
