import { Notification, type Channel } from '@notofine/db';
import { captureLogs } from '@test/capture-logs';
import { insertUser } from '@test/factories';
import { redisText } from '@test/inspect';
import { createTestEnvironment, type TestEnvironment } from '@test/test-environment';
import { waitFor } from '@test/wait-for';
import type { LoopbackHttpServer } from '../../packages/providers/test/loopback/http-server';
import { sendGridError, startSendGridServer, type LoopbackSendGrid } from '../../packages/providers/test/loopback/sendgrid-server';
import { startSmtpServer, type LoopbackSmtpServer } from '../../packages/providers/test/loopback/smtp-server';
import { startTwilioServer, twilioError } from '../../packages/providers/test/loopback/twilio-server';
import { startVonageServer, vonageAnswer, vonagePart } from '../../packages/providers/test/loopback/vonage-server';
import { openDeliveryQueues } from '../../services/api/test/delivery-queues';
import { start as startWorker, type WorkerService } from '../../services/worker/src/worker-service';

// Providers quote the recipient back in their errors, and not always as the user gave it: URL- or
// percent-encoded, in another case, as a national or spaced number, with or without its country
// code, quoted-printable or in base64. Through each provider's real SDK against its loopback
// double, every such form must be masked before the row, the logs and the failed job in Redis
// (its reason and stack traces) see it.

const EMAIL = 'marie.curie@example.com';
const PHONE = '+33698765432';
const base64 = (text: string) => Buffer.from(text).toString('base64');

/**
 * Every trace of the recipient in a text, found without the masking code's help: the address in
 * any case once percent- and quoted-printable escapes are decoded, `at` and `dot` spelled out
 * read back, the number's significant digits with anything but a digit between them, and the
 * base64 forms the doubles wrote.
 */
function traces(text: string): string[] {
  const decoded = text
    .replace(/%([0-9a-f]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    .replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    .replace(/\s*[([]at[)\]]\s*/gi, '@')
    .replace(/\s*[([]dot[)\]]\s*/gi, '.')
    .toLowerCase();
  const found = [];
  if (decoded.includes('marie.curie')) found.push('the address');
  const number = /6\D{0,4}9\D{0,4}8\D{0,4}7\D{0,4}6\D{0,4}5\D{0,4}4\D{0,4}3\D{0,4}2/.exec(text);
  if (number) found.push(`the number (${number[0]})`);
  for (const encoded of [base64(EMAIL), base64(EMAIL).slice(4, -4), base64(PHONE), base64(PHONE.slice(1))]) if (text.includes(encoded)) found.push(`base64 ${encoded}`);
  return found;
}

interface Setup {
  readonly env: TestEnvironment;
  readonly worker: WorkerService;
  readonly logs: ReturnType<typeof captureLogs>;
}

async function setUp(variables: Record<string, string>, service: string): Promise<Setup> {
  const env = await createTestEnvironment({ DELIVERY_ATTEMPTS: '6', ...variables });
  const logs = captureLogs(service);
  const worker = await startWorker({ config: env.config, logger: logs.logger, scheduleReminders: false });
  return { env, worker, logs };
}

/** Sends one notification to the recipient on `channel`, waits until it has failed and its job too; returns where it could leak. */
async function failedDelivery({ env, worker, logs }: Setup, channel: Channel): Promise<{ row: Notification; places: Record<string, string> }> {
  const user = await insertUser(env.db, { email: EMAIL, phone: PHONE });
  const { id } = await worker.notifications.sendNotification({ userId: user.id, channel, message: 'Rappel', subject: 'Rappel' });
  const row = await waitFor(
    'the notification to fail',
    async () => {
      const found = await env.db.manager.findOneByOrFail(Notification, { id });
      return found.status === 'failed' && found;
    },
    { timeoutMs: 20_000 },
  );
  const queues = openDeliveryQueues(env);
  try {
    const job = await waitFor('its job to be failed in Redis', async () => {
      const found = await queues.job(channel, id);
      return found?.failedReason ? found : null;
    });
    return {
      row,
      places: {
        'the row': JSON.stringify(row),
        'the logs': logs.lines.join('\n'),
        'the failed reason': job.failedReason,
        'the stack traces': (job.stacktrace ?? []).join('\n'),
        'all of Redis': await redisText(env),
      },
    };
  } finally {
    await queues.close();
  }
}

const leaksIn = (places: Record<string, string>) => Object.entries(places).flatMap(([where, text]) => traces(text).map((trace) => `${where}: ${trace}`));

describe('SendGrid and Twilio', () => {
  let sendgrid: LoopbackSendGrid;
  let twilio: LoopbackHttpServer;
  let setup: Setup;
  beforeAll(async () => {
    [sendgrid, twilio] = await Promise.all([startSendGridServer(), startTwilioServer()]);
    setup = await setUp(
      {
        EMAIL_PROVIDER: 'sendgrid',
        SENDGRID_API_KEY: 'SG.loopback',
        SENDGRID_BASE_URL: sendgrid.url,
        EMAIL_FROM: 'Notofine <no-reply@notofine.fr>',
        SMS_PROVIDER: 'twilio',
        TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`,
        TWILIO_AUTH_TOKEN: 'twilio-auth-token',
        TWILIO_BASE_URL: twilio.url,
        SMS_FROM: '+15005550006',
      },
      'sendgrid-twilio',
    );
  });
  afterAll(async () => {
    await setup.worker.stop();
    await setup.env.cleanup();
    await Promise.all([sendgrid.close(), twilio.close()]);
  });

  it('masks the address SendGrid quotes URL-encoded, in capitals, quoted-printable, in base64 or spelled out', async () => {
    sendgrid.script(
      sendGridError(500, [`Upstream timeout for to=marie.curie%40example.com`]),
      sendGridError(500, [`Mailbox MARIE.CURIE@EXAMPLE.COM is busy`]),
      sendGridError(500, [`Deferred: =?utf-8?Q?marie.curie=40example.com?=`]),
      sendGridError(500, [`Deferred: payload ${base64(`{"to":"${EMAIL}"}`)}`]),
      sendGridError(400, [{ message: `The to email Marie.Curie (at) Example (dot) com does not exist.`, field: 'personalizations.0.to.0.email' }]),
    );

    const { row, places } = await failedDelivery(setup, 'email');

    expect(row.errorMessage).toBe('sendgrid: HTTP 400: personalizations.0.to.0.email: The to email m***@example.com does not exist.');
    // (Those the usual patterns catch keep the case they were written in.)
    expect(places['the logs']).toMatch(/Mailbox m\*\*\*@example\.com is busy/i);
    expect(leaksIn(places)).toEqual([]);
  });

  it('masks the number Twilio quotes national, spaced, dotted, dashed, with 0033 or %2B33, with (0), or in base64', async () => {
    twilio.script(
      twilioError(503, 20503, 'Carrier unreachable for 06 98 76 54 32'),
      twilioError(503, 20503, 'Carrier unreachable for 0033698765432'),
      twilioError(503, 20503, 'Queue full: To=%2B33698765432&From=%2B15005550006'),
      twilioError(503, 20503, 'Route down for +33 (0)6.98.76.54.32'),
      twilioError(503, 20503, `Route down for ${base64(PHONE)}`),
      twilioError(400, 21211, "The 'To' number 06-98-76-54-32 is not a valid phone number."),
    );

    const { row, places } = await failedDelivery(setup, 'sms');

    expect(row.errorMessage).toBe("twilio: HTTP 400: The 'To' number +33******32 is not a valid phone number. (Twilio error 21211)");
    expect(places['the logs']).toContain('Carrier unreachable for +33******32');
    expect(leaksIn(places)).toEqual([]);
  });
});

describe('SMTP and Vonage', () => {
  let smtp: LoopbackSmtpServer;
  let vonage: LoopbackHttpServer;
  let setup: Setup;
  beforeAll(async () => {
    [smtp, vonage] = await Promise.all([startSmtpServer(), startVonageServer()]);
    setup = await setUp(
      {
        EMAIL_PROVIDER: 'smtp',
        SMTP_URL: smtp.url,
        EMAIL_FROM: 'Notofine <no-reply@notofine.fr>',
        SMS_PROVIDER: 'vonage',
        VONAGE_API_KEY: 'vonage-key',
        VONAGE_API_SECRET: 'vonage-api-secret',
        VONAGE_BASE_URL: vonage.url,
        SMS_FROM: 'Notofine',
      },
      'smtp-vonage',
    );
  });
  afterAll(async () => {
    await setup.worker.stop();
    await setup.env.cleanup();
    await Promise.all([smtp.close(), vonage.close()]);
  });

  it('masks the address an SMTP server quotes in another case, percent-encoded or as a MIME encoded word', async () => {
    smtp.rejectRecipients(`550 5.1.1 <Marie.Curie@Example.COM>: unknown (rcpt=marie%2Ecurie%40example%2Ecom, =?utf-8?B?${base64(EMAIL)}?=)`);
    try {
      const { row, places } = await failedDelivery(setup, 'email');

      expect(row.errorMessage).toMatch(/^smtp: the server refused RCPT TO: 550 5\.1\.1 <m\*\*\*@example\.com>: unknown \(rcpt=m\*\*\*@example\.com, /i);
      expect(leaksIn(places)).toEqual([]);
    } finally {
      smtp.rejectRecipients(null);
    }
  });

  it('masks the number Vonage quotes without its plus, national or spaced', async () => {
    vonage.script(
      vonageAnswer(vonagePart('5', { 'error-text': 'Internal error sending to 33698765432' })),
      vonageAnswer(vonagePart('5', { 'error-text': 'Internal error sending to 06 98 76 54 32' })),
      vonageAnswer(vonagePart('6', { 'error-text': 'Unroutable message to 0698765432 (+33 6 98 76 54 32)' })),
    );

    const { row, places } = await failedDelivery(setup, 'sms');

    expect(row.errorMessage).toBe('vonage: Vonage refused the SMS: status 6 (Unroutable message to +33******32 (+33******32))');
    expect(leaksIn(places)).toEqual([]);
  });
});
