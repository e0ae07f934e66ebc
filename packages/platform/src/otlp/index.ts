export * from './decode.js';
export * from './flatten.js';
export * from './encode.js';
export { planOf, readProto, trimPlan, type KeptFields, type MessagePlan } from './wire.js';
