import { createHmac } from 'node:crypto';
import { UnsubscribeLinks } from '../src';

const SECRET = 'unsubscribe-secret-for-tests-0123456789';
const links = new UnsubscribeLinks(SECRET, 'https://notify.example.test');

/** The token with its payload replaced, the signature kept. */
const withPayload = (token: string, payload: string): string => `${Buffer.from(payload).toString('base64url')}.${token.split('.')[1]}`;

describe('UnsubscribeLinks', () => {
  it('makes a link under the public address that names the user and the channel, and verifies its own token', () => {
    const url = links.url(42, 'email')!;
    const token = url.split('/').at(-1)!;

    expect(url).toMatch(/^https:\/\/notify\.example\.test\/unsubscribe\/[\w-]+\.[\w-]+$/);
    expect(links.verify(token)).toEqual({ userId: 42, channel: 'email' });
    expect(links.verify(links.token(7, 'sms'))).toEqual({ userId: 7, channel: 'sms' });
  });

  it('makes no link without the public address: an email cannot carry a relative one', () => {
    expect(new UnsubscribeLinks(SECRET, undefined).url(42, 'email')).toBeUndefined();
  });

  it('refuses a token whose user or channel was changed, keeping the signature', () => {
    const token = links.token(42, 'email');

    expect(links.verify(withPayload(token, '43.email'))).toBeNull();
    expect(links.verify(withPayload(token, '42.sms'))).toBeNull();
  });

  it('refuses a signature changed by one character, or made with another secret', () => {
    const token = links.token(42, 'email');
    const last = token.at(-1) === 'A' ? 'B' : 'A';

    expect(links.verify(`${token.slice(0, -1)}${last}`)).toBeNull();
    expect(links.verify(new UnsubscribeLinks('another-secret-of-the-same-length-xx', undefined).token(42, 'email'))).toBeNull();
  });

  it.each([
    ['a stray character', '!'],
    ['a space', ' '],
    ['padding', '='],
    ['a character of standard base64', '+'],
  ])('refuses a link whose user part carries %s, which base64url decoding would skip: it must be the link as made', (_case, junk) => {
    const [encoded, signature] = links.token(42, 'email').split('.') as [string, string];

    expect(links.verify(`${encoded}${junk}.${signature}`)).toBeNull();
    expect(links.verify(`${junk}${encoded}.${signature}`)).toBeNull();
  });

  it.each([
    ['that is empty', ''],
    ['that has no signature', Buffer.from('42.email').toString('base64url')],
    ['made of three parts', `${links.token(42, 'email')}.x`],
    ['whose signature has another length', `${Buffer.from('42.email').toString('base64url')}.abc`],
  ])('refuses a token %s', (_case, token) => {
    expect(links.verify(token)).toBeNull();
  });

  // The signature covers the decoded payload: a token must be its one writing, or the same link
  // would have any number of forms (padding, characters the decoder skips, a trailing NUL).
  it.each([
    ['with base64 padding', (encoded: string) => `${encoded}==`],
    ['with a character the decoder skips', (encoded: string) => `${encoded.slice(0, 4)}!${encoded.slice(4)}`],
    ['with a space', (encoded: string) => `${encoded.slice(0, 4)} ${encoded.slice(4)}`],
  ])('refuses a token whose payload is written %s, its signature kept', (_case, rewrite) => {
    const [encoded, signature] = links.token(42, 'email').split('.');
    const rewritten = `${rewrite(encoded!)}.${signature}`;

    expect(Buffer.from(rewrite(encoded!), 'base64url').toString()).toBe('42.email');
    expect(links.verify(rewritten)).toBeNull();
  });

  it('refuses a payload signed with the secret that names no channel a link can unsubscribe from, or no user', () => {
    // Signed as the service signs, so that only the payload's shape can refuse it.
    const signed = (payload: string) => `${Buffer.from(payload).toString('base64url')}.${createHmac('sha256', SECRET).update(`unsubscribe:${payload}`).digest('base64url')}`;

    expect(links.verify(signed('42.email'))).toEqual({ userId: 42, channel: 'email' });
    expect(links.verify(signed('42.push'))).toBeNull();
    expect(links.verify(signed('0.email'))).toBeNull();
    expect(links.verify(signed('42'))).toBeNull();
    expect(links.verify(signed('9007199254740993.email'))).toBeNull();
  });
});
