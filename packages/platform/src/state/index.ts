export * from './changelog.js';
export * from './topics.js';
