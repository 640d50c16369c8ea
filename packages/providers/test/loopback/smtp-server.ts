import { createServer, type AddressInfo, type Socket } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';

/** A message as the loopback SMTP server received it. */
export interface ReceivedMail {
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  readonly mail: ParsedMail;
  /** Whether the session was encrypted (STARTTLS) when the message came. */
  readonly secure: boolean;
}

export interface LoopbackSmtpServer {
  readonly url: string;
  readonly received: ReceivedMail[];
  /** Rejects every recipient with this SMTP reply, e.g. `550 5.1.1 No such user`; `null` accepts them again. */
  rejectRecipients(reply: string | null): void;
  /** Answers every login with this reply, e.g. `454 4.7.0 Try again later`; `null` checks the credentials again. */
  rejectLogins(reply: string | null): void;
  /** How many connections clients opened, how many are still open, and the most open at once. */
  connections(): { readonly opened: number; readonly open: number; readonly mostOpen: number };
  /** The logins clients attempted (AUTH), each with whether its session was encrypted then. */
  logins(): ReadonlyArray<{ readonly user: string; readonly secure: boolean }>;
  close(): Promise<void>;
}

/** `550 5.1.1 No such user` → an error smtp-server answers with that code and text. */
function smtpReply(reply: string): Error {
  const [, code, text] = /^(\d{3}) (.*)$/.exec(reply) ?? [];
  if (!code || text === undefined) throw new Error(`not an SMTP reply: ${reply}`);
  return Object.assign(new Error(text), { responseCode: Number(code) });
}

/**
 * A real SMTP server (nodemailer's `smtp-server`) on a random loopback port. Without `tls`, it
 * offers no STARTTLS and takes logins in clear; with `tls` (its key and certificate), it offers
 * STARTTLS and takes logins only once the session is encrypted, as relays on the internet do.
 * Authentication (PLAIN/LOGIN, wrong credentials answered 535) only when `credentials` are given.
 */
export async function startSmtpServer(
  options: { credentials?: { user: string; pass: string }; tls?: { key: string; cert: string } } = {},
): Promise<LoopbackSmtpServer> {
  const received: ReceivedMail[] = [];
  const logins: Array<{ user: string; secure: boolean }> = [];
  let recipientRejection: string | null = null;
  let loginRejection: string | null = null;
  let opened = 0;
  let open = 0;
  let mostOpen = 0;
  const disabledCommands = [...(options.tls ? [] : ['STARTTLS']), ...(options.credentials ? [] : ['AUTH'])];
  const server = new SMTPServer({
    disabledCommands,
    ...(options.tls && { key: options.tls.key, cert: options.tls.cert }),
    allowInsecureAuth: !options.tls,
    authOptional: !options.credentials,
    logger: false,
    onConnect(_session, callback) {
      opened += 1;
      open += 1;
      mostOpen = Math.max(mostOpen, open);
      callback();
    },
    onClose() {
      open -= 1;
    },
    onAuth(auth, session, callback) {
      logins.push({ user: auth.username ?? '', secure: session.secure });
      if (loginRejection) return callback(smtpReply(loginRejection));
      const { credentials } = options;
      if (credentials && auth.username === credentials.user && auth.password === credentials.pass) return callback(null, { user: auth.username });
      return callback(smtpReply('535 5.7.8 Authentication credentials invalid'));
    },
    onRcptTo(_address: SMTPServerAddress, _session, callback) {
      return recipientRejection ? callback(smtpReply(recipientRejection)) : callback();
    },
    onData(stream, session, callback) {
      simpleParser(stream).then(
        (mail) => {
          const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
          received.push({ envelope: { from, to: session.envelope.rcptTo.map((rcpt) => rcpt.address) }, mail, secure: session.secure });
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
      recipientRejection = reply;
    },
    rejectLogins(reply) {
      loginRejection = reply;
    },
    connections: () => ({ opened, open, mostOpen }),
    logins: () => [...logins],
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface StallingSmtpServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A server that takes connections and stalls them: `silent` never says a word; `trickling` greets,
 * then answers EHLO with an endless reply, one continuation line every 100 ms, so that the socket
 * is never idle long enough for a socket timeout to notice.
 */
export async function startStallingSmtpServer(mode: 'silent' | 'trickling'): Promise<StallingSmtpServer> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
    if (mode === 'silent') return;
    socket.write('220 loopback ESMTP\r\n');
    socket.once('data', () => {
      const timer = setInterval(() => socket.write('250-loopback still thinking\r\n'), 100);
      timers.add(timer);
      socket.on('close', () => {
        clearInterval(timer);
        timers.delete(timer);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearInterval(timer);
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
