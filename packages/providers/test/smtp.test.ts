import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { captureLogs } from '@test/capture-logs';
import { ProviderError, SmtpEmailProvider } from '../src';
import { startSmtpServer, type LoopbackSmtpServer } from './loopback/smtp-server';

const { logger } = captureLogs();
const message = {
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
    provider = new SmtpEmailProvider({ url: server.url, from: 'Notofine <no-reply@notofine.fr>', timeoutMs: 2000 }, logger);
  });
  afterAll(async () => {
    await provider.close();
    await server.close();
  });
  afterEach(() => server.rejectRecipients(null));

  it('delivers a text and an HTML part, a UTF-8 subject, and returns the Message-ID', async () => {
    const accepted = await provider.send(message);

    const [delivered] = server.received.slice(-1);
    expect(delivered?.envelope).toEqual({ from: 'no-reply@notofine.fr', to: ['jean.dupont@example.com'] });
    expect(delivered?.mail.subject).toBe('Rappel : contravention impayée à régler');
    expect(delivered?.mail.from?.value).toEqual([{ name: 'Notofine', address: 'no-reply@notofine.fr' }]);
    expect(delivered?.mail.text?.trim()).toBe(message.text);
    expect(delivered?.mail.html).toContain('<p>Votre contravention #ABC123 est due le 15 décembre.<br>\nMerci de la régler.</p>');
    expect(accepted.providerMessageId).toBe(delivered?.mail.messageId?.replace(/[<>]/g, ''));
    expect(accepted.providerMessageId).toMatch(/@notofine\.fr$/);
  });

  it('escapes the message in the HTML part', async () => {
    await provider.send({ ...message, text: 'Montant <b>135 €</b> & "frais"' });

    expect(server.received.at(-1)?.mail.html).toContain('<p>Montant &lt;b&gt;135 €&lt;/b&gt; &amp; &quot;frais&quot;</p>');
  });

  it('fails for good on a 5xx reply, naming the SMTP code', async () => {
    server.rejectRecipients('550 5.1.1 No such user here');

    const sending = provider.send(message);

    await expect(sending).rejects.toThrow(ProviderError);
    await expect(sending).rejects.toMatchObject({ kind: 'fail', message: expect.stringContaining('550') });
  });

  it('retries on a 4xx reply', async () => {
    server.rejectRecipients('451 4.3.0 Mailbox temporarily unavailable');

    await expect(provider.send(message)).rejects.toMatchObject({ kind: 'retry', message: expect.stringContaining('451') });
  });

  it('fails for good when the credentials are rejected', async () => {
    const wrong = new SmtpEmailProvider({ url: server.url.replace('s3cret', 'wrong'), from: 'no-reply@notofine.fr', timeoutMs: 2000 }, logger);

    await expect(wrong.send(message)).rejects.toMatchObject({ kind: 'fail', message: expect.stringMatching(/^credentials rejected/) });
    await wrong.close();
  });
});

describe('SmtpEmailProvider against a server that never answers', () => {
  let silent: Server;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('gives up after the timeout, as a retriable error', async () => {
    const { port } = silent.address() as AddressInfo;
    const provider = new SmtpEmailProvider({ url: `smtp://127.0.0.1:${port}`, from: 'no-reply@notofine.fr', timeoutMs: 300 }, logger);
    const started = Date.now();

    await expect(provider.send(message)).rejects.toMatchObject({ kind: 'retry' });

    expect(Date.now() - started).toBeLessThan(3000);
    await provider.close();
  });
});
