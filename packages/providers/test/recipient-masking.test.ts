import { maskRecipient, withRecipientMasked } from '../src';
import { ProviderError } from '../src/provider';

const EMAIL = 'Marie.Curie+amendes@Example.com';
const PHONE = '+33698765432';
const base64 = (text: string) => Buffer.from(text).toString('base64');

describe('maskRecipient', () => {
  it.each([
    ['as given', 'Marie.Curie+amendes@Example.com'],
    ['in capitals', 'MARIE.CURIE+AMENDES@EXAMPLE.COM'],
    ['URL-encoded', 'to=marie.curie%2Bamendes%40example.com&x=1'],
    ['percent-encoded throughout', '%6d%61%72%69%65%2e%63%75%72%69%65%2b%61%6d%65%6e%64%65%73%40%65%78%61%6d%70%6c%65%2e%63%6f%6d'],
    ['quoted-printable', '=?utf-8?Q?marie.curie+amendes=40example.com?='],
    ['spelled out', 'marie.curie+amendes [at] example [dot] com'],
    ['as HTML references', 'marie.curie+amendes&#64;example&#x2e;com'],
    ['in base64', `=?utf-8?B?${base64('Marie.Curie+amendes@Example.com')}?=`],
    ['in base64 inside a longer text', base64(`{"to": "marie.curie+amendes@example.com"}`)],
  ])('masks the address %s', (_case, text) => {
    const masked = maskRecipient(text, EMAIL);

    expect(masked).toContain('m***@example.com');
    expect(masked.toLowerCase()).not.toContain('curie');
  });

  it.each([
    ['in E.164', '+33698765432'],
    ['without its plus', 'to 33698765432'],
    ['with 0033', '0033698765432'],
    ['URL-encoded', 'To=%2B33698765432'],
    ['form-encoded with spaces', 'To=%2B33+6+98+76+54+32'],
    ['national', '0698765432'],
    ['national with spaces', '06 98 76 54 32'],
    ['national with dots', '06.98.76.54.32'],
    ['national with dashes', '06-98-76-54-32'],
    ['international with spaces', '+33 6 98 76 54 32'],
    ['with the trunk in brackets', '+33 (0)6 98 76 54 32'],
    ['as its significant digits alone', 'number 698765432 unknown'],
    ['in base64', base64('+33698765432')],
  ])('masks the number %s', (_case, text) => {
    const masked = maskRecipient(text, PHONE);

    expect(masked).toContain('+33******32');
    expect(masked.replace(/\D/g, '')).not.toContain('98765');
  });

  it('leaves other numbers and addresses alone: error codes, timestamps, another user', () => {
    const text = 'error 30003 at 1795500000 for +33612345678, 1698765432 and jean@example.com';

    expect(maskRecipient(maskRecipient(text, EMAIL), PHONE)).toBe(text);
  });
});

describe('withRecipientMasked', () => {
  it('keeps the kind and the wait, masks the message, and replaces the cause with its masked name, code and message', () => {
    const cause = Object.assign(new Error('550 <MARIE.CURIE+AMENDES@EXAMPLE.COM> unknown'), { code: 'EENVELOPE', response: 'the whole answer, address included' });
    const error = new ProviderError('throttle', 'Slow down for marie.curie%2Bamendes%40example.com', { retryAfterMs: 2000, cause });

    const masked = withRecipientMasked(error, EMAIL);

    expect(masked).toMatchObject({ kind: 'throttle', retryAfterMs: 2000, message: 'Slow down for m***@example.com' });
    expect(masked.cause).toMatchObject({ name: 'Error', code: 'EENVELOPE', message: '550 <m***@example.com> unknown' });
    expect(masked.cause).not.toHaveProperty('response');
  });
});
