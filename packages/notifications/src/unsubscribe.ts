import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Channel } from '@notofine/db';

/** Channels a user can unsubscribe from by a link or a reply; push is switched off on the phone. */
export type OptOutChannel = Extract<Channel, 'email' | 'sms'>;

/** The path of unsubscribe links, under the API's public address. */
export const UNSUBSCRIBE_PATH = '/unsubscribe';

/**
 * Signed unsubscribe links (RFC 8058 one-click): the link names the user and the channel, and an
 * HMAC proves the service made it, so that nobody can unsubscribe someone else by guessing ids.
 * Links do not expire: an email read months later must still unsubscribe.
 */
export class UnsubscribeLinks {
  constructor(
    private readonly secret: string,
    /** The API's public address (`PUBLIC_BASE_URL`); without one, emails carry no link. */
    private readonly baseUrl: string | undefined,
  ) {}

  token(userId: number, channel: OptOutChannel): string {
    const payload = `${userId}.${channel}`;
    return `${Buffer.from(payload).toString('base64url')}.${this.sign(payload)}`;
  }

  /** The link for an email, or undefined when the API's public address is unknown. */
  url(userId: number, channel: OptOutChannel): string | undefined {
    return this.baseUrl && `${this.baseUrl}${UNSUBSCRIBE_PATH}/${this.token(userId, channel)}`;
  }

  /** Who and what a token unsubscribes; null when it was not made by this service. */
  verify(token: string): { userId: number; channel: OptOutChannel } | null {
    const [encoded, signature] = token.split('.');
    if (!encoded || !signature || token.split('.').length !== 2) return null;
    // The decoder skips what is not base64url: only the one writing the service makes is taken.
    const payload = Buffer.from(encoded, 'base64url').toString('utf8');
    // The link as it was made, character for character: base64url decoding skips stray characters.
    if (Buffer.from(payload).toString('base64url') !== encoded) return null;
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    const match = /^([1-9]\d{0,15})\.(email|sms)$/.exec(payload);
    const userId = Number(match?.[1]);
    return match && Number.isSafeInteger(userId) ? { userId, channel: match[2] as OptOutChannel } : null;
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(`unsubscribe:${payload}`).digest('base64url');
  }
}
