export * from './decode.js';
export * from './flatten.js';
export * from './encode.js';
export { planOf, readProto, type MessagePlan } from './wire.js';
