export * from './errors.js';
export * from './limits.js';
export * from './rest/admin.js';
export * from './rest/auth.js';
export * from './rest/common.js';
export * from './rest/terminals.js';
export * from './ws.js';
