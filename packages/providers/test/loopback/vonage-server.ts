import { startHttpServer, type LoopbackHttpServer, type RecordedRequest, type Reply } from './http-server';

/** One part of the SMS API's answer, as Vonage writes it. */
export function vonagePart(status: string, extra: Record<string, string> = {}): Record<string, string> {
  return status === '0'
    ? { to: '33612345678', 'message-id': `vonage-${Math.random().toString(36).slice(2, 10)}`, status, 'remaining-balance': '10.0', 'message-price': '0.05', network: '20801', ...extra }
    : { status, 'error-text': extra['error-text'] ?? `error ${status}`, ...extra };
}

/** The SMS API's answer: `{"message-count": n, "messages": [...]}`. */
export function vonageAnswer(...parts: Array<Record<string, string>>): Reply {
  return { status: 200, body: { 'message-count': String(parts.length), messages: parts } };
}

/** Vonage's SMS API as a loopback: `POST /sms/json` accepts every message, one part each. */
export function startVonageServer(): Promise<LoopbackHttpServer> {
  return startHttpServer((request: RecordedRequest) =>
    request.method === 'POST' && request.path === '/sms/json' ? vonageAnswer(vonagePart('0')) : { status: 404, body: { error: 'not found' } },
  );
}
