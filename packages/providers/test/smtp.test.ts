import { captureLogs } from '@test/capture-logs';
import { waitFor } from '@test/wait-for';
import { ProviderError, SmtpEmailProvider, type EmailMessage, type SmtpOptions } from '../src';
import { startAiosmtpd, type Aiosmtpd } from './loopback/aiosmtpd';
import { startSmtpServer, startStallingSmtpServer, type LoopbackSmtpServer, type StallingSmtpServer } from './loopback/smtp-server';
import { selfSignedCertificate, type TestCertificate } from './loopback/tls-certificate';

const { logger } = captureLogs();
const FROM = 'Notofine <no-reply@notofine.fr>';
/** The provider's options for a server at `url`: TLS used when offered but not required, the default pool. */
const smtpOptions = (url: string, overrides: Partial<SmtpOptions> = {}): SmtpOptions => ({ url, from: FROM, timeoutMs: 2000, requireTls: false, poolSize: 5, ...overrides });
const message: EmailMessage = {
  notificationId: 42,
  to: 'jean.dupont@example.com',
  subject: 'Rappel : contravention impayée à régler',
  text: 'Bonjour,\n\nVotre contravention #ABC123 est due le 15 décembre.\nMerci de la régler.',
};

describe('SmtpEmailProvider against a real SMTP server', () => {
  let server: LoopbackSmtpServer;
  let provider: SmtpEmailProvider;
  beforeAll(async () => {
    server = await startSmtpServer({ credentials: { user: 'notofine', pass: 's3cret' } });
    provider = new SmtpEmailProvider(smtpOptions(server.url), logger);
  });
  afterAll(async () => {
    await provider.close();
    await server.close();
  });
  afterEach(() => {
    server.rejectRecipients(null);
    server.rejectLogins(null);
  });

  it('delivers a text part, an HTML part and a UTF-8 subject to the recipient, and returns the Message-ID', async () => {
    const accepted = await provider.send(message);

    const delivered = server.received.at(-1);
    expect(delivered?.envelope).toEqual({ from: 'no-reply@notofine.fr', to: ['jean.dupont@example.com'] });
    expect(delivered?.mail.from?.value).toEqual([{ name: 'Notofine', address: 'no-reply@notofine.fr' }]);
    expect(delivered?.mail.subject).toBe('Rappel : contravention impayée à régler');
    // Encoded as RFC 2047 words, not raw 8-bit bytes that some relays mangle.
    expect(delivered?.mail.headerLines.find((header) => header.key === 'subject')?.line).toMatch(/^Subject: =\?UTF-8\?[QB]\?/i);
    expect(delivered?.mail.text?.trim()).toBe(message.text);
    expect(delivered?.mail.html).toContain('<p>Bonjour,</p>');
    expect(delivered?.mail.html).toContain('<p>Votre contravention #ABC123 est due le 15 décembre.<br>\nMerci de la régler.</p>');
    expect(accepted.providerMessageId).toMatch(/^[^<>\s]+@notofine\.fr$/);
    expect(delivered?.mail.messageId).toBe(`<${accepted.providerMessageId}>`);
  });

  it('sends the one-click unsubscribe headers (RFC 8058) when the message has a link', async () => {
    const url = 'https://notify.example.test/unsubscribe/MTIuZW1haWw.sig';

    await provider.send({ ...message, unsubscribeUrl: url });

    const headers = server.received.at(-1)?.mail.headerLines.map((header) => header.line) ?? [];
    expect(headers).toEqual(expect.arrayContaining([`List-Unsubscribe: <${url}>`, 'List-Unsubscribe-Post: List-Unsubscribe=One-Click']));
  });

  it('sends a template\'s own HTML body as the HTML part, in the message\'s language', async () => {
    await provider.send({ ...message, html: '<p>Votre contravention <strong>AB-123</strong></p>', lang: 'fr' });

    const delivered = server.received.at(-1);
    expect(delivered?.mail.html).toMatch(/<html lang="fr">.*<p>Votre contravention <strong>AB-123<\/strong><\/p>/s);
    expect(delivered?.mail.text?.trim()).toBe(message.text);
  });

  it('escapes the message in the HTML part', async () => {
    await provider.send({ ...message, text: 'Montant <b>135 €</b> & "frais"' });

    expect(server.received.at(-1)?.mail.html).toContain('<p>Montant &lt;b&gt;135 €&lt;/b&gt; &amp; &quot;frais&quot;</p>');
  });

  it('sends successive messages over one pooled connection, and closes it on close()', async () => {
    const pooled = new SmtpEmailProvider(smtpOptions(server.url), logger);
    const before = server.connections();

    for (const notificationId of [1, 2, 3]) await pooled.send({ ...message, notificationId });
    const after = server.connections();
    await pooled.close();

    expect(after.opened - before.opened).toBe(1);
    await waitFor('the pooled connection to close', () => server.connections().open === before.open);
  });

  it('opens at most SMTP_POOL_SIZE connections, however many emails are sent at once', async () => {
    const busy = await startSmtpServer({ credentials: { user: 'notofine', pass: 's3cret' } });
    const pooled = new SmtpEmailProvider(smtpOptions(busy.url, { poolSize: 2 }), logger);

    await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((notificationId) => pooled.send({ ...message, notificationId })));

    expect(busy.received).toHaveLength(8);
    expect(busy.connections()).toMatchObject({ opened: 2, mostOpen: 2 });
    await pooled.close();
    await busy.close();
  });

  it.each([
    ['550 5.1.1 No such user here', 'fail'],
    ['552 5.2.2 Mailbox full', 'fail'],
    ['451 4.3.0 Mailbox temporarily unavailable', 'retry'],
    ['421 4.7.0 Too many connections, try again later', 'retry'],
    ['503 5.5.1 Bad sequence of commands', 'retry'],
  ])('answers a recipient refused with "%s" with %s, quoting the reply', async (reply, kind) => {
    server.rejectRecipients(reply);
    const delivered = server.received.length;

    const sending = provider.send(message);

    await expect(sending).rejects.toThrow(ProviderError);
    await expect(sending).rejects.toMatchObject({ kind, message: expect.stringContaining(reply) });
    expect(server.received).toHaveLength(delivered);
  });

  it('masks the address a refusal quotes', async () => {
    server.rejectRecipients('550 5.1.1 <jean.dupont@example.com>: Recipient address rejected: User unknown');

    await expect(provider.send(message)).rejects.toMatchObject({
      kind: 'fail',
      message: 'the server refused RCPT TO: 550 5.1.1 <j***@example.com>: Recipient address rejected: User unknown',
    });
  });

  it('fails for good when the server rejects the credentials (535)', async () => {
    const wrong = new SmtpEmailProvider(smtpOptions(server.url.replace('s3cret', 'wrong')), logger);

    const sending = wrong.send(message);

    await expect(sending).rejects.toMatchObject({ kind: 'fail', message: expect.stringMatching(/^credentials rejected \(535 /) });
    await wrong.close();
  });

  it('retries when the server refuses a login for now (454)', async () => {
    const fresh = new SmtpEmailProvider(smtpOptions(server.url), logger);
    server.rejectLogins('454 4.7.0 Temporary authentication failure');

    await expect(fresh.send(message)).rejects.toMatchObject({ kind: 'retry', message: expect.stringContaining('454') });
    await fresh.close();
  });
});

describe('SmtpEmailProvider against servers that do not deliver', () => {
  const timeoutMs = 500;
  let silent: StallingSmtpServer;
  let trickling: StallingSmtpServer;
  beforeAll(async () => {
    [silent, trickling] = await Promise.all([startStallingSmtpServer('silent'), startStallingSmtpServer('trickling')]);
  });
  afterAll(async () => {
    await Promise.all([silent.close(), trickling.close()]);
  });

  it.each([
    ['never answers', () => silent.url],
    ['trickles an endless reply, never idle long enough for a socket timeout', () => trickling.url],
  ])('gives up on a server that %s after about the timeout, as a retriable error', async (_case, url) => {
    const provider = new SmtpEmailProvider(smtpOptions(url(), { timeoutMs }), logger);
    const started = Date.now();

    await expect(provider.send(message)).rejects.toMatchObject({ kind: 'retry' });

    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 50);
    expect(elapsed).toBeLessThan(timeoutMs + 1000);
    await provider.close();
  });

  it('retries when nothing listens', async () => {
    const provider = new SmtpEmailProvider(smtpOptions('smtp://127.0.0.1:1', { timeoutMs }), logger);

    await expect(provider.send(message)).rejects.toMatchObject({ kind: 'retry', message: expect.stringContaining('ECONNREFUSED') });
    await provider.close();
  });
});

describe('SmtpEmailProvider and TLS (SMTP_REQUIRE_TLS)', () => {
  const credentials = { user: 'notofine', pass: 's3cret' };
  let certificate: TestCertificate;
  let withStartTls: LoopbackSmtpServer;
  let inClear: LoopbackSmtpServer;
  beforeAll(async () => {
    certificate = selfSignedCertificate();
    [withStartTls, inClear] = await Promise.all([startSmtpServer({ credentials, tls: certificate }), startSmtpServer({ credentials })]);
  });
  afterAll(async () => {
    await Promise.all([withStartTls.close(), inClear.close()]);
  });

  /** Sends one message with a provider of its own, closed afterwards. */
  async function sendOnce(options: SmtpOptions): Promise<unknown> {
    const provider = new SmtpEmailProvider(options, logger);
    try {
      return await provider.send(message);
    } finally {
      await provider.close();
    }
  }

  it('with TLS required, upgrades with STARTTLS, then logs in and sends over the encrypted session', async () => {
    await sendOnce(smtpOptions(withStartTls.url, { requireTls: true, ca: certificate.cert }));

    expect(withStartTls.received.at(-1)?.secure).toBe(true);
    expect(withStartTls.logins().at(-1)).toEqual({ user: 'notofine', secure: true });
  });

  it('with TLS required, neither logs in nor sends to a server that offers no STARTTLS, and fails at once saying why', async () => {
    const sending = sendOnce(smtpOptions(inClear.url, { requireTls: true }));

    await expect(sending).rejects.toMatchObject({
      kind: 'fail',
      message: expect.stringMatching(/^the SMTP server would not start TLS \(5\d\d .*\): it offers no STARTTLS or refused it, and SMTP_REQUIRE_TLS forbids/),
    });
    expect(inClear.logins()).toEqual([]);
    expect(inClear.received).toEqual([]);
  });

  it('without TLS required, still upgrades when the server offers STARTTLS, and logs in in clear only where it does not', async () => {
    await sendOnce(smtpOptions(withStartTls.url, { ca: certificate.cert }));
    await sendOnce(smtpOptions(inClear.url));

    expect(withStartTls.received.at(-1)?.secure).toBe(true);
    expect(inClear.received.at(-1)?.secure).toBe(false);
    expect(inClear.logins()).toEqual([{ user: 'notofine', secure: false }]);
  });

  it('fails at once on a certificate it does not trust, TLS required or not', async () => {
    for (const requireTls of [true, false]) {
      const sending = sendOnce(smtpOptions(withStartTls.url, { requireTls }));

      await expect(sending).rejects.toMatchObject({ kind: 'fail', message: expect.stringMatching(/^the SMTP server's certificate is not trusted: .*self-signed certificate/) });
    }
  });

  describe('against aiosmtpd (python3-aiosmtpd), a server written apart from nodemailer', () => {
    let plain: Aiosmtpd;
    let secured: Aiosmtpd;
    beforeAll(async () => {
      [plain, secured] = await Promise.all([startAiosmtpd(), startAiosmtpd({ tls: certificate })]);
    });
    afterAll(async () => {
      await Promise.all([plain?.close(), secured?.close()]);
    });

    it('with TLS required, sends over STARTTLS to the one that offers it', async () => {
      await sendOnce(smtpOptions(secured.url, { requireTls: true, ca: certificate.cert }));

      // aiosmtpd prints what it received on its standard output, which reaches this process a little later.
      await waitFor('aiosmtpd to print the message', () => secured.received() === 1);
    });

    it('with TLS required, sends nothing to the one without TLS, which answers 454 to STARTTLS: the notification fails at once, not after its retries', async () => {
      const sending = sendOnce(smtpOptions(plain.url, { requireTls: true }));

      await expect(sending).rejects.toMatchObject({ kind: 'fail', message: expect.stringContaining('would not start TLS (454 TLS not available)') });
      expect(plain.received()).toBe(0);
    });

    it('without TLS required, sends to the one without TLS in clear', async () => {
      await sendOnce(smtpOptions(plain.url));

      await waitFor('aiosmtpd to print the message', () => plain.received() === 1);
    });
  });
});
