export * from './net.ts';
export * from './netbox.ts';
export * from './nginx.ts';
export * from './postgres.ts';
export * from './sshd.ts';
