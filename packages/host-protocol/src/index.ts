export * from './framing.js';
export * from './messages.js';
