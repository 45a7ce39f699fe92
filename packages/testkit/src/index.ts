export * from './net.ts';
export * from './postgres.ts';
export * from './sshd.ts';
