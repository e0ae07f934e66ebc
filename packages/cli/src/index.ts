export { main, parseArgs, ROLE_NAMES } from './main.js';
export { runVigil, type RoleName, type RunningVigil, type RunOptions } from './process.js';
