import { createHmac, hkdfSync, randomUUID, timingSafeEqual } from 'node:crypto';
import type { ConnectionOptions, TlsOptions } from 'node:tls';
import { z } from 'zod';

/**
 * The peer link between nodes (issue #16, docs/decisions.md "Many nodes"): TLS 1.3 with a key
 * derived from PEER_SECRET (TLS-PSK: encrypted and mutually authenticated, no certificates to
 * manage), and on top of it a short-lived ticket per connection, bound to the terminal, the user
 * and the web session it acts for, and to the node it is meant for. The API signs tickets (it has
 * checked the session); the terminal host, which listens on the peer port, verifies them. A
 * browser's token alone never reaches a peer port: without PEER_SECRET there is no TLS handshake,
 * and without a ticket no terminal.
 */

/** How long a ticket is accepted after it was signed: it is used at once, once. */
export const TICKET_TTL_MS = 30_000;
/** TLS 1.3's SHA-256 suite: OpenSSL's TLS 1.3 external PSKs (set by callback) use SHA-256. */
const PEER_CIPHERS = 'TLS_AES_128_GCM_SHA256';

export const PeerTicketSchema = z.object({
  /** What for: attaching a socket to a terminal, or ending it. */
  act: z.enum(['attach', 'terminate']),
  tid: z.string(),
  uid: z.string(),
  sid: z.string(),
  /** The signing node, and the node the ticket is for (no other node accepts it). */
  from: z.string(),
  to: z.string(),
  /** Expiry (ms since the epoch) and a one-time id. */
  exp: z.number().int(),
  jti: z.string(),
});
export type PeerTicket = z.infer<typeof PeerTicketSchema>;

export class PeerTicketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PeerTicketError';
  }
}

function derive(secret: string, purpose: string, bytes: number): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'tether peer link', purpose, bytes));
}

export function createPeerLink(options: { secret: string; nodeId: string; now?: () => number }) {
  const { nodeId } = options;
  const now = options.now ?? Date.now;
  const psk = derive(options.secret, 'tls-psk', 32);
  const ticketKey = derive(options.secret, 'ticket-hmac', 32);
  /** One-time ids seen, until their ticket would have expired anyway. */
  const seen = new Map<string, number>();

  const mac = (payload: string) => createHmac('sha256', ticketKey).update(payload).digest();

  return {
    /** A ticket for `to`, acting for the user and session of `ctx`. */
    sign(ticket: Omit<PeerTicket, 'from' | 'exp' | 'jti'>): string {
      const full: PeerTicket = { ...ticket, from: nodeId, exp: now() + TICKET_TTL_MS, jti: randomUUID() };
      const payload = Buffer.from(JSON.stringify(full)).toString('base64url');
      return `${payload}.${mac(payload).toString('base64url')}`;
    },

    /** The ticket's claims, if it was signed with our secret, is for this node, is fresh and unused. */
    verify(token: string): PeerTicket {
      const [payload, signature, extra] = token.split('.');
      if (!payload || !signature || extra !== undefined) throw new PeerTicketError('malformed ticket');
      const expected = mac(payload);
      const given = Buffer.from(signature, 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected))
        throw new PeerTicketError('bad ticket signature');
      let claims: PeerTicket;
      try {
        claims = PeerTicketSchema.parse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
      } catch {
        throw new PeerTicketError('malformed ticket');
      }
      const at = now();
      if (claims.to !== nodeId) throw new PeerTicketError('ticket for another node');
      if (claims.exp <= at || claims.exp > at + 2 * TICKET_TTL_MS)
        throw new PeerTicketError('ticket expired');
      for (const [jti, exp] of seen) if (exp <= at) seen.delete(jti);
      if (seen.has(claims.jti)) throw new PeerTicketError('ticket already used');
      seen.set(claims.jti, claims.exp);
      return claims;
    },

    /** TLS options of the peer port: TLS 1.3 with the derived key; the client's identity is its node id. */
    serverTls(): TlsOptions {
      return {
        minVersion: 'TLSv1.3',
        ciphers: PEER_CIPHERS,
        // Any identity presenting the shared key is a node of this deployment.
        pskCallback: () => psk,
      };
    },

    /** TLS options to connect to another node's peer port. */
    clientTls(): ConnectionOptions {
      return {
        minVersion: 'TLSv1.3',
        ciphers: PEER_CIPHERS,
        pskCallback: () => ({ psk, identity: nodeId }),
        // No certificate with PSK: the key itself authenticates the server.
        checkServerIdentity: () => undefined,
      };
    },
  };
}

export type PeerLink = ReturnType<typeof createPeerLink>;
