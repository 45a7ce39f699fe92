export * from './client.js';
export * from './framing.js';
export * from './generations.js';
export * from './messages.js';
