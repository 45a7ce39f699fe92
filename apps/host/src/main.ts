import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createPeerLink } from '@tether/host-protocol';
import { createTargetPolicy, describeTargetPolicy, terminalManagerConfig } from '@tether/terminal-engine';
import { pino } from 'pino';
import { hostBuild, loadHostEnv, nodeIdOf, sharedSecret, socketPathOf } from './config.js';
import { createTerminalHost } from './host.js';

/**
 * `node apps/host/dist/main.js`: the terminal host of this node. Reads the same environment as
 * the API (DATA_DIR, terminal limits, SSH target policy). SIGTERM and SIGINT end its terminals
 * and exit; it is meant to run for as long as the machine does.
 */
async function main() {
  const env = loadHostEnv();
  const log = pino({ level: env.LOG_LEVEL, base: { component: 'terminal-host' } });
  let stop: (signal: string) => void = () => {};
  const host = createTerminalHost({
    socketPath: socketPathOf(env),
    drainLimitMs: env.TERMINAL_HOST_DRAIN,
    // A newer generation took over and this one's last terminal ended: its work is done.
    onDrained: () => stop('drained'),
    secret: sharedSecret(env.DATA_DIR),
    engine: terminalManagerConfig(env),
    policy: createTargetPolicy({ allowed: env.SSH_ALLOWED_TARGETS, denied: env.SSH_DENIED_TARGETS }),
    log,
    version: hostBuild(),
    ...(env.PEER_SECRET
      ? {
          peer: {
            host: env.PEER_HOST,
            port: env.PEER_PORT,
            link: createPeerLink({ secret: env.PEER_SECRET, nodeId: nodeIdOf(env.DATA_DIR, env.NODE_ID) }),
          },
        }
      : {}),
  });
  log.info(
    {
      sshTargets: describeTargetPolicy({ allowed: env.SSH_ALLOWED_TARGETS, denied: env.SSH_DENIED_TARGETS }),
    },
    'SSH target policy',
  );
  await host.listen();
  // For operators: `kill $(cat DATA_DIR/terminal-host.pid)` ends the newest host and its
  // terminals. A draining generation leaves the file to the newer one.
  const pidFile = path.join(path.resolve(env.DATA_DIR), 'terminal-host.pid');
  writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o644 });
  process.once('exit', () => {
    try {
      if (readFileSync(pidFile, 'utf8').trim() === String(process.pid)) rmSync(pidFile, { force: true });
    } catch {
      // already gone
    }
  });
  let stopping = false;
  stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'terminal host stopping');
    host.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  console.error(`fatal: ${(err as Error).message}`);
  process.exit(1);
});
