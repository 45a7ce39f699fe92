import type { ServerMessage } from '@tether/protocol';
import type { SshdHarness } from '@tether/testkit';
import type { ConnectInteraction, HostKeyInfo, KnownHostsStore } from '../src/ssh-connect.js';
import type { TerminalViewer } from '../src/terminal.js';

export class MemoryKnownHosts implements KnownHostsStore {
  readonly entries = new Map<string, HostKeyInfo>();
  lookup(host: string, port: number) {
    return this.entries.get(`${host}:${port}`) ?? null;
  }
  remember(host: string, port: number, key: HostKeyInfo) {
    this.entries.set(`${host}:${port}`, key);
  }
}

/** Accepts unknown host keys and answers prompts; records every question it was asked. */
export function createInteraction(answers: { accept?: boolean; responses?: string[] } = {}) {
  const hostKeyPrompts: Array<HostKeyInfo & { host: string; port: number }> = [];
  const prompts: Array<{
    name: string;
    instructions: string;
    prompts: Array<{ prompt: string; echo: boolean }>;
  }> = [];
  const interaction: ConnectInteraction = {
    async confirmHostKey(info) {
      hostKeyPrompts.push(info);
      return answers.accept ?? true;
    },
    async prompt(name, instructions, list) {
      prompts.push({ name, instructions, prompts: list });
      return answers.responses ?? [];
    },
  };
  return { interaction, hostKeyPrompts, prompts };
}

/** A viewer that records frames with their stream offsets, like a client would. */
export class RecordingViewer implements TerminalViewer {
  readonly messages: ServerMessage[] = [];
  readonly chunks: Buffer[] = [];
  /** Offset of the next byte this viewer expects (from ready + bytes received). */
  nextOffset: number | null = null;
  closed: { code: number; reason: string } | null = null;
  buffered = 0;
  autoAck: ((offset: number) => void) | null = null;

  sendBinary(data: Uint8Array): void {
    if (this.nextOffset === null) throw new Error('binary frame before ready');
    this.chunks.push(Buffer.from(data));
    this.nextOffset += data.length;
    this.autoAck?.(this.nextOffset);
  }
  sendJson(message: ServerMessage): void {
    this.messages.push(message);
    if (message.type === 'ready') this.nextOffset = message.offset;
  }
  bufferedAmount(): number {
    return this.buffered;
  }
  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
  of<T extends ServerMessage['type']>(type: T): Array<Extract<ServerMessage, { type: T }>> {
    return this.messages.filter((m): m is Extract<ServerMessage, { type: T }> => m.type === type);
  }
}

export async function waitFor(
  predicate: () => boolean,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function targetOf(sshd: SshdHarness, port = sshd.port) {
  return { host: sshd.host, port, username: sshd.username };
}

export const LOOPBACK_ONLY = { allowed: '127.0.0.0/8' };
