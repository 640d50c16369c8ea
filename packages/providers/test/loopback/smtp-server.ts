import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';

/** A message as the loopback SMTP server received it. */
export interface ReceivedMail {
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  readonly mail: ParsedMail;
}

export interface LoopbackSmtpServer {
  readonly url: string;
  readonly received: ReceivedMail[];
  /** Rejects recipients with this SMTP reply, e.g. `550 5.1.1 No such user`. */
  rejectRecipients(reply: string | null): void;
  close(): Promise<void>;
}

/**
 * A real SMTP server (nodemailer's `smtp-server`) on a random loopback port: no TLS, and
 * authentication only when `credentials` are given.
 */
export async function startSmtpServer(options: { credentials?: { user: string; pass: string } } = {}): Promise<LoopbackSmtpServer> {
  const received: ReceivedMail[] = [];
  let rejection: string | null = null;
  const server = new SMTPServer({
    disabledCommands: options.credentials ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    allowInsecureAuth: true,
    authOptional: !options.credentials,
    logger: false,
    onAuth(auth, _session, callback) {
      const { credentials } = options;
      if (credentials && auth.username === credentials.user && auth.password === credentials.pass) return callback(null, { user: auth.username });
      return callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onRcptTo(_address: SMTPServerAddress, _session, callback) {
      if (!rejection) return callback();
      const [, code, text] = /^(\d{3}) (.*)$/.exec(rejection)!;
      return callback(Object.assign(new Error(text), { responseCode: Number(code) }));
    },
    onData(stream, session, callback) {
      simpleParser(stream).then(
        (mail) => {
          const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
          received.push({ envelope: { from, to: session.envelope.rcptTo.map((rcpt) => rcpt.address) }, mail });
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  const auth = options.credentials ? `${options.credentials.user}:${options.credentials.pass}@` : '';
  return {
    url: `smtp://${auth}127.0.0.1:${port}`,
    received,
    rejectRecipients(reply) {
      rejection = reply;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
