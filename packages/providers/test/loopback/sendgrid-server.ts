import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { LoopbackHttpServer, RecordedRequest, Reply } from './http-server';

/** The fields of SendGrid's v3 mail body that the tests read. */
export interface SendGridMailBody {
  readonly personalizations: ReadonlyArray<{ readonly to: ReadonlyArray<{ readonly email: string; readonly name?: string }> }>;
  readonly from: { readonly email: string; readonly name?: string };
  readonly subject: string;
  readonly content: ReadonlyArray<{ readonly type: string; readonly value: string }>;
  readonly custom_args?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * How the loopback answers one call: a reply as every loopback gives (or `hang`: never a byte), or
 * `trickle`: the status and headers at once, then a byte of body every 100 ms, never the end.
 */
export type SendGridReply = Reply | 'trickle';
export type SendGridResponder = (request: RecordedRequest) => SendGridReply;

export interface LoopbackSendGrid extends LoopbackHttpServer {
  /** The only key accepted in `Authorization: Bearer <key>`; any bearer key when not given. */
  readonly apiKey: string | undefined;
  /** Answers the next calls with these replies, one each, then as SendGrid does again. */
  respondWith(...replies: Array<SendGridReply | SendGridResponder>): void;
  /** Same as {@link respondWith}, under the name every loopback has. */
  script(...replies: Array<SendGridReply | SendGridResponder>): void;
  /** How many calls `POST /v3/mail/send` received. */
  sendCalls(): number;
  /** The bodies `POST /v3/mail/send` received, parsed, in order. */
  mails(): SendGridMailBody[];
  /** The `X-Message-Id` of each message the loopback accepted by itself (not by a scripted reply), in order. */
  messageIds(): string[];
  /** Forgets the calls received and the replies not used yet. */
  reset(): void;
}

/** SendGrid's error answer: `{"errors": [{"message", "field", "help"}]}`. */
export function sendGridError(status: number, errors: ReadonlyArray<string | { message: string; field: string }>, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers,
    body: { errors: errors.map((error) => (typeof error === 'string' ? { message: error, field: null, help: null } : { ...error, help: null })) },
  };
}

const SEND_PATH = '/v3/mail/send';

/**
 * SendGrid's v3 mail API on a random loopback port, as far as Notofine uses it: `POST /v3/mail/send`
 * with the bearer key (`options.apiKey`, or any) and a well-formed body answers 202 with an
 * `X-Message-Id` (`sg-<n>`); another key 401, a body missing a required field 400, any other route 404, each with SendGrid's error
 * JSON. Every request is recorded; the tests script other answers with {@link LoopbackSendGrid.respondWith}.
 */
export async function startSendGridServer(options: { apiKey?: string } = {}): Promise<LoopbackSendGrid> {
  const { apiKey } = options;
  const requests: RecordedRequest[] = [];
  const scripted: Array<SendGridReply | SendGridResponder> = [];
  const sockets = new Set<Socket>();
  const trickles = new Set<NodeJS.Timeout>();
  const messageIds: string[] = [];
  let accepted = 0;

  const answerAsSendGrid = (request: RecordedRequest): Reply => {
    if (request.method !== 'POST' || request.path !== SEND_PATH) return sendGridError(404, ['resource not found']);
    const bearer = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (!bearer || (apiKey !== undefined && bearer !== apiKey)) {
      return sendGridError(401, ['The provided authorization grant is invalid, expired, or revoked']);
    }
    const invalid = invalidFields(request.body);
    if (invalid.length > 0) return sendGridError(400, invalid);
    accepted += 1;
    const messageId = `sg-${accepted}`;
    messageIds.push(messageId);
    return { status: 202, headers: { 'X-Message-Id': messageId } };
  };

  const answer = (reply: SendGridReply, res: ServerResponse): void => {
    if (reply === 'hang') return;
    if (reply === 'trickle') {
      res.writeHead(202, { 'Content-Type': 'application/json', 'X-Message-Id': 'sg-trickle' });
      const timer = setInterval(() => res.write(' '), 100);
      trickles.add(timer);
      res.on('close', () => {
        clearInterval(timer);
        trickles.delete(timer);
      });
      return;
    }
    const body = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    res.writeHead(reply.status, { ...(typeof reply.body === 'object' && { 'Content-Type': 'application/json' }), ...reply.headers });
    res.end(body);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(request);
      const next = scripted.shift() ?? answerAsSendGrid;
      answer(typeof next === 'function' ? next(request) : next, res);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const sends = () => requests.filter((request) => request.method === 'POST' && request.path === SEND_PATH);
  const respondWith = (...replies: Array<SendGridReply | SendGridResponder>) => {
    scripted.push(...replies);
  };
  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    requests,
    respondWith,
    script: respondWith,
    sendCalls: () => sends().length,
    mails: () => sends().map((request) => JSON.parse(request.body) as SendGridMailBody),
    messageIds: () => [...messageIds],
    reset() {
      requests.splice(0);
      scripted.splice(0);
      messageIds.splice(0);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of trickles) clearInterval(timer);
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The required fields a mail body lacks, worded as SendGrid words them. */
function invalidFields(raw: string): Array<{ message: string; field: string }> {
  let mail: Partial<SendGridMailBody>;
  try {
    mail = JSON.parse(raw) as Partial<SendGridMailBody>;
  } catch {
    return [{ field: 'body', message: 'Bad Request' }];
  }
  const invalid: Array<{ message: string; field: string }> = [];
  if (!mail.personalizations?.[0]?.to?.[0]?.email) {
    invalid.push({ field: 'personalizations', message: 'The personalizations field is required and must have at least one personalization.' });
  }
  if (!mail.from?.email) invalid.push({ field: 'from.email', message: 'The from email does not contain a valid address.' });
  if (!mail.subject) invalid.push({ field: 'subject', message: 'The subject is required.' });
  if (!mail.content?.length || mail.content.some((part) => !part.type || !part.value)) {
    invalid.push({ field: 'content', message: 'The content value must be a string at least one character in length.' });
  }
  return invalid;
}
