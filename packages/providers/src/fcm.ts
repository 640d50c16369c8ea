import { Agent } from 'node:https';
import { connect as connectTcp, type NetConnectOpts, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { ServiceAccount } from '@notofine/config';
import type { Logger } from '@notofine/logger';
import { deleteApp, initializeApp, type App } from 'firebase-admin/app';
import { getMessaging, type Messaging } from 'firebase-admin/messaging';
import { errorForHttpStatus, parseRetryAfter, toProviderError } from './classify';
import { GoogleTokenSource } from './google-token';
import { ProviderError, type ProviderErrorKind, type PushMessage, type PushOutcome, type PushProvider } from './provider';

export interface FcmOptions {
  readonly projectId: string;
  readonly credentials: ServiceAccount;
  /** `https://fcm.googleapis.com`, or where to send FCM's requests instead (a gateway, a test double). */
  readonly baseUrl: string;
  readonly timeoutMs: number;
}

const FCM_HOST = 'https://fcm.googleapis.com';
const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
/**
 * How long a sender over quota waits when FCM does not say: FCM asks for at least a minute (its
 * quotas are counted per minute).
 */
const QUOTA_WAIT_MS = 60_000;

/**
 * What each FCM error code means for one device: the FcmError detail's code, else (an answer
 * without one) Google's status. UNAUTHENTICATED, about the access token, is dealt with first.
 */
const KIND_OF_FCM_ERROR: Readonly<Record<string, ProviderErrorKind>> = {
  UNREGISTERED: 'invalid-address',
  INVALID_ARGUMENT: 'fail',
  SENDER_ID_MISMATCH: 'fail',
  THIRD_PARTY_AUTH_ERROR: 'fail',
  APNS_AUTH_ERROR: 'fail',
  QUOTA_EXCEEDED: 'throttle',
  UNAVAILABLE: 'retry',
  INTERNAL: 'retry',
  UNSPECIFIED_ERROR: 'retry',
  NOT_FOUND: 'invalid-address',
  PERMISSION_DENIED: 'fail',
  RESOURCE_EXHAUSTED: 'throttle',
};

/**
 * firebase-admin has no endpoint option: an HTTPS agent whose connections go to `target` whatever
 * host a request names — over TLS for an `https:` target, in clear for `http:` (a test double).
 */
class RedirectingAgent extends Agent {
  constructor(private readonly target: URL) {
    super({ keepAlive: true });
  }

  override createConnection(_options: NetConnectOpts, callback?: (error: Error | null, socket: Socket) => void): Socket {
    const host = this.target.hostname;
    const port = Number(this.target.port || (this.target.protocol === 'https:' ? 443 : 80));
    const socket = this.target.protocol === 'https:' ? connectTls({ host, port, servername: host }) : connectTcp({ host, port });
    if (callback) socket.once('connect', () => callback(null, socket));
    return socket;
  }
}

/**
 * Push through Firebase Cloud Messaging with firebase-admin: one HTTP v1 `messages:send` per
 * device, on an App of this provider's own. Each device's result is its own: a token FCM reports
 * unregistered or invalid is refused as `invalid-address` (the worker disables its device) while
 * the others are still served.
 */
export class FcmPushProvider implements PushProvider {
  readonly name = 'fcm';
  private readonly app: App;
  private readonly messaging: Messaging;
  private readonly tokens: GoogleTokenSource;
  private static apps = 0;

  constructor(
    private readonly options: FcmOptions,
    _logger: Logger,
  ) {
    this.tokens = new GoogleTokenSource(options.credentials, FCM_SCOPE, options.timeoutMs);
    const tokens = this.tokens;
    const httpAgent = options.baseUrl.replace(/\/+$/, '') === FCM_HOST ? new Agent({ keepAlive: true }) : new RedirectingAgent(new URL(options.baseUrl));
    FcmPushProvider.apps += 1;
    this.app = initializeApp(
      {
        credential: { getAccessToken: async () => ({ access_token: await tokens.token(), expires_in: Math.max(0, Math.floor((tokens.expiresAt - Date.now()) / 1000)) }) },
        projectId: options.projectId,
        httpAgent,
      },
      `notofine-fcm-${process.pid}-${FcmPushProvider.apps}`,
    );
    this.messaging = getMessaging(this.app);
    takeOverSdkClient(this.messaging, tokens);
  }

  async send(message: PushMessage): Promise<PushOutcome> {
    // A refused key fails the whole call (and says so) before any device is tried.
    await this.tokens.token();
    const accepted: Array<PushOutcome['accepted'][number]> = [];
    const refused: Array<PushOutcome['refused'][number]> = [];
    await Promise.all(
      message.tokens.map(async (token) => {
        try {
          const name = await withTimeout(this.messaging.send({ token, notification: { title: message.title, body: message.body } }), this.options.timeoutMs);
          accepted.push({ token, providerMessageId: name });
        } catch (error) {
          refused.push({ token, error: classifyFcmError(error) });
        }
      }),
    );
    return { accepted, refused };
  }

  async close(): Promise<void> {
    await deleteApp(this.app);
  }
}

/** The parts of firebase-admin's HTTP client of the messaging service that this provider takes over. */
interface SdkHttpClient {
  retry: unknown;
  send(request: unknown): Promise<unknown>;
  getToken(): Promise<string>;
}

/** FCM's answer as firebase-admin's client received it. */
interface SdkResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, unknown>>;
  readonly text?: string;
  isJson(): boolean;
  readonly data: unknown;
}

/** firebase-admin's error for an HTTP answer that is not a 2xx (its `RequestResponseError`). */
function answerOf(error: unknown): SdkResponse | undefined {
  const response = (error as { response?: Partial<SdkResponse> } | null)?.response;
  return typeof response?.status === 'number' && typeof response.isJson === 'function' ? (response as SdkResponse) : undefined;
}

/**
 * Takes over four things of firebase-admin's messaging client, an internal object (the provider's
 * tests notice if an upgrade moves it):
 * - Its retries are switched off. It retries 503s and connection resets by itself, for up to a
 *   minute, after our timeout has given up on the call: a message FCM then accepts would also be
 *   sent again by the worker's retry. The worker's retry policy must be the only one.
 * - Its access token comes from `tokens` alone, not also from the App's own cache, so that a token
 *   FCM refuses can be dropped.
 * - A request FCM refuses with 401 because of the access token (expired early, revoked: a key
 *   rotated, a clock off) is sent again once, with a new token. Without that, every push would
 *   fail until the cached token ran out, an hour later. A token endpoint that refuses the key then
 *   fails the call as rejected credentials; FCM refusing the new token too is retried later.
 * - FCM's error answers are classified here, from what FCM sent: firebase-admin keeps only an error
 *   code of its own, and drops the Retry-After, the quota a QUOTA_EXCEEDED is about, and whether a
 *   401 was about our token.
 */
function takeOverSdkClient(messaging: Messaging, tokens: GoogleTokenSource): void {
  const handler = (messaging as unknown as { messagingRequestHandler?: { httpClient?: Partial<SdkHttpClient> } }).messagingRequestHandler;
  const client = handler?.httpClient;
  if (!client || !('retry' in client) || typeof client.send !== 'function' || typeof client.getToken !== 'function') {
    throw new Error('firebase-admin internals changed: cannot take its messaging client over');
  }
  client.retry = undefined;
  client.getToken = () => tokens.token();
  const send = client.send.bind(client);
  client.send = async (request) => {
    const used = await tokens.token();
    try {
      return await send(request);
    } catch (error) {
      const answer = answerOf(error);
      if (!answer) throw error;
      if (!refusesAccessToken(answer)) throw classifyFcmAnswer(answer);
      tokens.invalidate(used);
    }
    try {
      return await send(request);
    } catch (error) {
      const answer = answerOf(error);
      if (!answer) throw error;
      if (refusesAccessToken(answer)) throw new ProviderError('retry', 'UNAUTHENTICATED: FCM refused a freshly issued access token too');
      throw classifyFcmAnswer(answer);
    }
  };
}

/**
 * Whether FCM refused the request for its access token: a 401 that is not about the APNs or web
 * push credentials of the project (FCM's THIRD_PARTY_AUTH_ERROR, a 401 too).
 */
function refusesAccessToken(answer: SdkResponse): boolean {
  return answer.status === 401 && !(answer.isJson() && fcmErrorCodeOf(answer.data) === 'THIRD_PARTY_AUTH_ERROR');
}

/**
 * What FCM's error answer for one device means: its FcmError code (else Google's status) decides,
 * or failing both its HTTP status. A Retry-After is kept (FCM asks for it to be honoured on
 * UNAVAILABLE and INTERNAL). A QUOTA_EXCEEDED waits its Retry-After, or a minute; it holds back
 * the whole channel unless FCM's QuotaFailure detail says the quota is the device's own ("device
 * message rate exceeded"): then only the notifications to that device wait.
 */
export function classifyFcmAnswer(answer: SdkResponse): ProviderError {
  const body = answer.isJson() ? answer.data : undefined;
  const error = (body as { error?: { status?: unknown; message?: unknown } } | undefined)?.error;
  const code = fcmErrorCodeOf(body) ?? (typeof error?.status === 'string' ? error.status : undefined);
  const text = typeof error?.message === 'string' ? error.message : (answer.text ?? '').trim().slice(0, 200);
  const retryAfter = answer.headers['retry-after'] as string | undefined;
  let kind = code === undefined ? undefined : KIND_OF_FCM_ERROR[code];
  if (!kind) return errorForHttpStatus(answer.status, code ? `${code}: ${text}` : text, { retryAfter });
  // FCM answers INVALID_ARGUMENT, not UNREGISTERED, for a token that is not a token at all.
  if (kind === 'fail' && code === 'INVALID_ARGUMENT' && /registration token/i.test(text)) kind = 'invalid-address';
  const message = `${code}: ${text}`;
  const retryAfterMs = parseRetryAfter(retryAfter);
  if (kind === 'throttle') return new ProviderError(kind, message, { retryAfterMs: retryAfterMs ?? QUOTA_WAIT_MS, scope: isDeviceQuota(body) ? 'recipient' : 'provider' });
  return new ProviderError(kind, message, kind === 'retry' && retryAfterMs !== undefined ? { retryAfterMs } : {});
}

/** Whether a QUOTA_EXCEEDED is about one device's rate: its QuotaFailure detail speaks of a device. */
function isDeviceQuota(body: unknown): boolean {
  const details = (body as { error?: { details?: unknown } } | undefined)?.error?.details;
  if (!Array.isArray(details)) return false;
  return (details as Array<{ '@type'?: unknown; violations?: unknown }>).some(
    (detail) =>
      detail['@type'] === 'type.googleapis.com/google.rpc.QuotaFailure' &&
      Array.isArray(detail.violations) &&
      (detail.violations as Array<{ subject?: unknown; description?: unknown }>).some((violation) => /device/i.test(`${String(violation.subject ?? '')} ${String(violation.description ?? '')}`)),
  );
}

/** The `errorCode` of the FcmError detail of an FCM error answer, when it has one. */
function fcmErrorCodeOf(body: unknown): string | undefined {
  const details = (body as { error?: { details?: unknown } } | null)?.error?.details;
  if (!Array.isArray(details)) return undefined;
  const detail = (details as Array<{ '@type'?: unknown; errorCode?: unknown }>).find((entry) => entry['@type'] === 'type.googleapis.com/google.firebase.fcm.v1.FcmError');
  return typeof detail?.errorCode === 'string' ? detail.errorCode : undefined;
}

/**
 * What an error for one device means when FCM's answer was classified already (a ProviderError) or
 * there was none: a message firebase-admin refused to send (it checks messages before sending
 * them) fails; a network failure or anything else is retried.
 */
export function classifyFcmError(error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code !== 'string' || !code.startsWith('messaging/')) return toProviderError(error);
  return new ProviderError(/registration token/i.test(message) ? 'invalid-address' : 'fail', `${code.slice('messaging/'.length)}: ${message}`, { cause: error });
}

async function withTimeout<T>(call: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new ProviderError('retry', `no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([call, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
