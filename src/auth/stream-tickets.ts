/**
 * Stream tickets (issue 22): a browser's EventSource cannot send `X-API-Key` or `Authorization`, so a client that
 * holds them (a web shop with its guest token, or the landing page on the server side) trades them for a ticket,
 * put in the stream's URL as `?ticket=`. A ticket names one basket (partner, user), opens only that basket's
 * change stream (read-only), and expires (LIVE_TICKET_TTL). It is `base64url(JSON [partner, user, guest, exp])`
 * `.` `base64url(HMAC-SHA256)` with a key derived from the service key: stateless, valid in every process.
 * URLs holding it are logged with the value masked (src/http/redact.ts).
 */
import { createHmac } from 'node:crypto';
import { macTextMatches } from '../domain/mac-text.js';

export interface TicketOwner {
  partnerId: string;
  userId: string;
  guest: boolean;
}

export interface IssuedTicket {
  ticket: string;
  /** Epoch ms. */
  expires: number;
}

/** Longest ticket looked at (a user id is at most 256 characters). */
const MAX_TICKET_LENGTH = 2048;

export class StreamTickets {
  constructor(
    private readonly secret: Buffer,
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  private mac(body: string): Buffer {
    return createHmac('sha256', this.secret).update(body).digest();
  }

  issue(owner: TicketOwner): IssuedTicket {
    const expires = this.now() + this.ttlMs;
    const body = Buffer.from(JSON.stringify([owner.partnerId, owner.userId, owner.guest, expires])).toString('base64url');
    return { ticket: `${body}.${this.mac(body).toString('base64url')}`, expires };
  }

  /** The owner a ticket names, or null when it is malformed, forged or expired. */
  verify(ticket: string): TicketOwner | null {
    if (ticket.length > MAX_TICKET_LENGTH) return null;
    const dot = ticket.indexOf('.');
    if (dot <= 0) return null;
    const body = ticket.slice(0, dot);
    if (!macTextMatches(this.mac(body), ticket.slice(dot + 1))) return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return null;
    }
    if (!Array.isArray(parsed) || parsed.length !== 4) return null;
    const [partnerId, userId, guest, expires]: unknown[] = parsed;
    if (typeof partnerId !== 'string' || typeof userId !== 'string' || typeof guest !== 'boolean' || typeof expires !== 'number') return null;
    if (expires <= this.now()) return null;
    return { partnerId, userId, guest };
  }
}
