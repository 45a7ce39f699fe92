export * from './audit.js';
export * from './login-failures.js';
export * from './netbox.js';
export * from './nodes.js';
export * from './profiles.js';
export * from './sessions.js';
export * from './terminals.js';
export * from './users.js';
