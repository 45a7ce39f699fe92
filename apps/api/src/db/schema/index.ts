export * from './audit.js';
export * from './sessions.js';
export * from './terminals.js';
export * from './users.js';
