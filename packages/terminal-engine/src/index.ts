export * from './env.js';
export * from './mirror.js';
export * from './ring-buffer.js';
export * from './ssh-connect.js';
export * from './target-policy.js';
export * from './terminal.js';
export * from './terminal-error.js';
export * from './terminal-manager.js';
