// A minimal Tether client: signs in, opens an SSH terminal, runs a command, detaches, reattaches
// with resumeFrom and runs another. Run it against a local broker:
//
//   TETHER_URL=http://localhost:8080 TETHER_USER=admin TETHER_PASSWORD=… \
//   SSH_HOST=127.0.0.1 SSH_PORT=22 SSH_USER=me SSH_PASSWORD=… \
//   node packages/protocol/examples/client.mjs
//
// Host keys: the fingerprint is printed; set SSH_ACCEPT_FINGERPRINT to the exact value to accept.
import { ServerMessageSchema, TERMINAL_SOCKET_PATH } from '@tether/protocol';
import WebSocket from 'ws';

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`set ${name}`);
  return v;
};
const base = env('TETHER_URL', 'http://localhost:8080').replace(/\/$/, '');

// 1. Sign in: the token comes back in the body, the fingerprint cookie in Set-Cookie. Both are
//    needed: the cookie on the socket upgrade, the token in the first message.
const login = await fetch(`${base}/api/auth/login`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: env('TETHER_USER'), password: env('TETHER_PASSWORD') }),
});
if (!login.ok) throw new Error(`login failed: ${login.status} ${await login.text()}`);
const { token } = await login.json();
const cookie = login.headers
  .getSetCookie()
  .map((c) => c.split(';')[0])
  .join('; ');

/** One socket = one attached terminal. Resolves with helpers once authenticated. */
function connect() {
  const ws = new WebSocket(base.replace(/^http/, 'ws') + TERMINAL_SOCKET_PATH, { headers: { cookie } });
  const state = { offset: 0, output: '', messages: [], handlers: new Set() };
  const send = (msg) => ws.send(JSON.stringify(msg));
  ws.on('open', () => send({ type: 'auth', token }));
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      // Terminal output: raw bytes. Count them; ack so the broker keeps sending.
      state.offset += data.length;
      state.output += data.toString('utf8');
      send({ type: 'ack', offset: state.offset });
    } else {
      const msg = ServerMessageSchema.parse(JSON.parse(data.toString()));
      state.messages.push(msg);
      if (msg.type === 'ready') state.offset = msg.offset; // bytes that follow start here
      if (msg.type === 'error') console.error(`error ${msg.code}: ${msg.message}`);
      if (msg.type === 'hostkey_prompt') {
        console.log(`host key of ${msg.host}:${msg.port} is ${msg.keyType} ${msg.fingerprint}`);
        send({ type: 'hostkey_decision', accept: msg.fingerprint === process.env.SSH_ACCEPT_FINGERPRINT });
      }
      if (msg.type === 'prompt')
        send({ type: 'prompt_response', responses: msg.prompts.map(() => env('SSH_PASSWORD')) });
    }
    for (const h of state.handlers) h();
  });
  const until = (predicate, what) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 20_000);
      const check = () => {
        const value = predicate();
        if (value) {
          clearTimeout(timer);
          state.handlers.delete(check);
          resolve(value);
        }
      };
      state.handlers.add(check);
      ws.on('close', (code) => reject(new Error(`socket closed (${code}) waiting for ${what}`)));
    });
  const next = (type) => until(() => state.messages.find((m) => m.type === type), type);
  const type = (text) => ws.send(Buffer.from(text), { binary: true });
  return { ws, state, send, next, until, type };
}

// 2. Open a terminal and run a command.
const a = connect();
await a.next('authenticated');
a.send({
  type: 'open',
  target: {
    host: env('SSH_HOST', '127.0.0.1'),
    port: Number(env('SSH_PORT', '22')),
    username: env('SSH_USER'),
  },
  auth: { method: 'password', password: env('SSH_PASSWORD') },
  cols: 80,
  rows: 24,
});
const { terminalId } = await a.next('ready');
a.type('echo one-$((40+2))\n');
await a.until(() => a.state.output.includes('one-42'), 'first command output');
const seen = a.state.offset;

// 3. Detach (closing the socket only detaches), then reattach from where we left off.
a.ws.close();
const b = connect();
await b.next('authenticated');
b.send({ type: 'attach', terminalId, resumeFrom: seen });
const ready = await b.next('ready');
b.type('echo two-$((40+3))\n');
await b.until(() => b.state.output.includes('two-43'), 'second command output');
console.log(
  `terminal ${terminalId}: reattached at offset ${ready.offset} (replay=${ready.replay}), shell still works`,
);

// 4. End the terminal and leave.
b.send({ type: 'terminate' });
await b.next('exit');
process.exit(0);
