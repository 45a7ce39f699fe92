export * from './client.js';
export * from './framing.js';
export * from './generations.js';
export * from './messages.js';
export * from './output-slabs.js';
export * from './peer-link.js';
