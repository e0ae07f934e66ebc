export * from './decode.js';
export * from './flatten.js';
export * from './encode.js';
