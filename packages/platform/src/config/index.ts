export * from './schema.js';
export * from './load.js';
export { hostProblem, hostPortProblem, portProblem, httpUrlProblem, HOST_HINT } from './address.js';
// One YAML parser for every package (rule packs, templates), so a package needs no YAML dependency of its own.
export { parseDocument as parseYamlDocument } from 'yaml';
