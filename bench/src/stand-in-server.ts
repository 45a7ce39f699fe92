/**
 * Stand-in for the remote side of the many-terminals figure: OpenSSH cannot host thousands of
 * shells on a small machine (a process tree and a PTY each), so this ssh2 server plays the shell.
 * On `shell` it prints GREETING_BYTES of text and a prompt, then echoes what it is sent. Runs as
 * its own process (started by the bench), listening on loopback only; reports its port over IPC.
 */
import ssh2, { type Connection } from 'ssh2';
import { STAND_IN_PASSWORD, STAND_IN_USER } from './stand-in.ts';

const { Server, utils } = ssh2;
const greetingBytes = Number(process.env.GREETING_BYTES ?? 64 * 1024);

function greeting(): Buffer {
  const line = `${'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(3).slice(0, 98)}\r\n`;
  const lines = Math.ceil(greetingBytes / line.length);
  return Buffer.from(`${line.repeat(lines).slice(0, greetingBytes - 2)}$ `);
}

{
  const text = greeting();
  const hostKey = utils.generateKeyPairSync('ed25519').private;
  let clients = 0;
  const sockets = new Set<Connection>();
  const server = new Server({ hostKeys: [hostKey] }, (client) => {
    clients++;
    sockets.add(client);
    client.on('authentication', (ctx) => {
      if (ctx.method === 'password' && ctx.username === STAND_IN_USER && ctx.password === STAND_IN_PASSWORD) {
        ctx.accept();
      } else {
        ctx.reject(['password']);
      }
    });
    client.on('ready', () => {
      client.on('session', (accept) => {
        const session = accept();
        session.on('pty', (acceptPty) => acceptPty?.());
        session.on('window-change', (acceptWc) => acceptWc?.());
        session.on('env', (acceptEnv) => acceptEnv?.());
        session.on('shell', (acceptShell) => {
          const stream = acceptShell();
          stream.write(text);
          stream.on('data', (data: Buffer) => {
            // A PTY in cooked mode echoes CR as CR LF.
            stream.write(
              data.includes(13)
                ? Buffer.from(data.toString('latin1').replace(/\r/g, '\r\n'), 'latin1')
                : data,
            );
          });
        });
      });
    });
    client.on('error', () => {});
    client.on('close', () => {
      clients--;
      sockets.delete(client);
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    process.send?.({ ready: true, port });
  });
  process.on('message', (msg: { cmd?: string }) => {
    if (msg?.cmd === 'count') process.send?.({ clients });
  });
  const stop = () => {
    for (const c of sockets) c.end();
    server.close();
    setTimeout(() => process.exit(0), 500).unref();
  };
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
}
