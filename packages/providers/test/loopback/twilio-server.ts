import { startHttpServer, type LoopbackHttpServer, type Reply } from './http-server';

/** A Twilio error answer: `{code, message, more_info, status}`. */
export function twilioError(status: number, code: number, message: string, headers: Record<string, string> = {}): Reply {
  return { status, headers, body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status } };
}

/**
 * Twilio's Messages API as a loopback: `POST /2010-04-01/Accounts/{sid}/Messages.json` answers 201
 * with a queued message whose SID is `SM<n>`.
 */
export function startTwilioServer(): Promise<LoopbackHttpServer> {
  let sent = 0;
  return startHttpServer((request) => {
    const match = /^\/2010-04-01\/Accounts\/(AC\w+)\/Messages\.json$/.exec(request.path);
    if (request.method !== 'POST' || !match) return twilioError(404, 20404, 'The requested resource was not found');
    sent += 1;
    const form = new URLSearchParams(request.body);
    return {
      status: 201,
      body: { sid: `SM${String(sent).padStart(32, '0')}`, account_sid: match[1], to: form.get('To'), from: form.get('From'), body: form.get('Body'), status: 'queued' },
    };
  });
}
