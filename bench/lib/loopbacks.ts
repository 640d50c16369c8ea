import { startFcmServer, type LoopbackFcm } from '../../packages/providers/test/loopback/fcm-server';
import type { LoopbackHttpServer } from '../../packages/providers/test/loopback/http-server';
import { startSendGridServer, type LoopbackSendGrid } from '../../packages/providers/test/loopback/sendgrid-server';
import { startVonageServer } from '../../packages/providers/test/loopback/vonage-server';

const FCM_PROJECT = 'notofine-bench';

/**
 * The test suite's loopback providers (SendGrid's v3 mail API, Vonage's SMS API, Google's token
 * endpoint and FCM HTTP v1), reached by the worker through the real SDKs. They record every request:
 * the bench counts and forgets them every second so that a long run does not fill its memory.
 */
export interface Loopbacks {
  /** The worker's provider variables. */
  readonly env: Record<string, string>;
  /** Provider calls received since the start (token requests excluded). */
  counts(): { sendgrid: number; vonage: number; fcm: number; fcmToken: number };
  close(): Promise<void>;
}

export async function startLoopbacks(): Promise<Loopbacks> {
  const [sendgrid, vonage, fcm]: [LoopbackSendGrid, LoopbackHttpServer, LoopbackFcm] = await Promise.all([
    startSendGridServer(),
    startVonageServer(),
    startFcmServer(FCM_PROJECT),
  ]);
  const totals = { sendgrid: 0, vonage: 0, fcm: 0, fcmToken: 0 };
  const drain = () => {
    totals.sendgrid += sendgrid.sendCalls();
    sendgrid.reset();
    totals.vonage += vonage.requests.length;
    vonage.requests.splice(0);
    for (const request of fcm.server.requests.splice(0)) {
      if (request.path === '/token') totals.fcmToken += 1;
      else totals.fcm += 1;
    }
  };
  const timer = setInterval(drain, 1000);
  timer.unref();
  return {
    env: {
      EMAIL_PROVIDER: 'sendgrid',
      SENDGRID_API_KEY: 'SG.bench-key',
      SENDGRID_BASE_URL: sendgrid.url,
      EMAIL_FROM: 'Notofine <no-reply@notofine.fr>',
      SMS_PROVIDER: 'vonage',
      VONAGE_API_KEY: 'bench-key',
      VONAGE_API_SECRET: 'bench-secret',
      VONAGE_BASE_URL: vonage.url,
      SMS_FROM: 'Notofine',
      PUSH_PROVIDER: 'fcm',
      FCM_PROJECT_ID: FCM_PROJECT,
      FCM_CREDENTIALS: JSON.stringify(fcm.serviceAccount),
      FCM_BASE_URL: fcm.server.url,
    },
    counts() {
      drain();
      return { ...totals };
    },
    async close() {
      clearInterval(timer);
      await Promise.all([sendgrid.close(), vonage.close(), fcm.server.close()]);
    },
  };
}
