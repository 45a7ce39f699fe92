// A minimal Tether client: signs in, opens an SSH terminal, runs a command, pastes 1 MiB paced
// by the broker's input window, detaches, reattaches with resumeFrom and runs another. Run it against a local broker:
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
  const state = {
    offset: 0,
    output: '',
    messages: [],
    handlers: new Set(),
    // Input flow control: keep at most `inputWindow` bytes beyond the last input_ack in flight.
    inputWindow: Number.POSITIVE_INFINITY,
    inputSent: 0,
    inputAcked: 0,
  };
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
      if (msg.type === 'authenticated') state.inputWindow = msg.inputWindowBytes ?? state.inputWindow;
      if (msg.type === 'input_ack') state.inputAcked = msg.offset;
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
  ws.on('close', () => {
    for (const h of state.handlers) h();
  });
  const until = (predicate, what) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`timed out waiting for ${what}`)), 20_000);
      const done = (err, value) => {
        clearTimeout(timer);
        state.handlers.delete(check);
        if (err) reject(err);
        else resolve(value);
      };
      const check = () => {
        const value = predicate();
        if (value) done(null, value);
        else if (ws.readyState === WebSocket.CLOSED) done(new Error(`socket closed waiting for ${what}`));
      };
      state.handlers.add(check);
      check();
    });
  const next = (type) => until(() => state.messages.find((m) => m.type === type), type);
  const type = (text) => {
    state.inputSent += Buffer.byteLength(text);
    ws.send(Buffer.from(text), { binary: true });
  };
  /** Large input: 32 KiB frames, each sent only when the window has room for it. */
  const paste = async (bytes) => {
    for (let at = 0; at < bytes.length; at += 32 * 1024) {
      const piece = bytes.subarray(at, at + 32 * 1024);
      await until(
        () => state.inputSent - state.inputAcked + piece.length <= state.inputWindow,
        'input window',
      );
      state.inputSent += piece.length;
      ws.send(piece, { binary: true });
    }
  };
  return { ws, state, send, next, until, type, paste };
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

// A large paste: the remote tty in raw mode counts exactly what arrives.
a.type('stty raw -echo; echo raw-""mode; head -c 1048576 | wc -c; stty sane\n');
await a.until(() => a.state.output.includes('raw-mode'), 'raw mode');
await a.paste(Buffer.alloc(1048576, 'x'));
await a.until(() => /\b1048576\b/.test(a.state.output), 'the whole paste counted remotely');
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
