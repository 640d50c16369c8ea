import type { Logger } from '@notofine/logger';
import twilio from 'twilio';
import { errorForHttpStatus, toProviderError } from './classify';
import { withRecipientMasked } from './recipient-masking';
import type { Accepted, ProviderError, SmsMessage, SmsProvider } from './provider';

export interface TwilioOptions {
  readonly accountSid: string;
  readonly authToken: string;
  /** `https://api.twilio.com` (or a test double). */
  readonly baseUrl: string;
  /** Sender: a Twilio number in E.164 or an alphanumeric sender id. */
  readonly from: string;
  readonly timeoutMs: number;
  /** Where Twilio posts the status callbacks, when the API's public address is known. */
  readonly statusCallbackUrl: string | undefined;
}

type RequestOptions = Parameters<twilio.RequestClient['request']>[0];
type Response = Awaited<ReturnType<twilio.RequestClient['request']>>;

/** Twilio's error body: `{"code": 21211, "message": "...", "more_info": "...", "status": 400}`. */
interface TwilioErrorBody {
  readonly code?: number;
  readonly message?: string;
}

/** Twilio's "Too Many Requests" error code, which some endpoints answer with another status. */
const TOO_MANY_REQUESTS = 20429;

/**
 * The SDK's HTTP client, sent to `baseUrl` instead of api.twilio.com, with the timeout, and turning
 * error responses into classified {@link ProviderError}s while their headers (`Retry-After`) are
 * still at hand: the SDK's own RestException drops them.
 */
class TwilioHttpClient extends twilio.RequestClient {
  constructor(private readonly baseUrl: URL, timeoutMs: number) {
    super({ timeout: timeoutMs, keepAlive: true, autoRetry: false });
  }

  override async request<TData>(opts: RequestOptions & { data?: TData }): Promise<Response & { body: TData }> {
    const target = new URL(opts.uri);
    const uri = new URL(`${target.pathname}${target.search}`, this.baseUrl).href;
    const response = await super.request<TData>({ ...opts, uri });
    if (response.statusCode >= 400) throw classifyTwilioResponse(response.statusCode, response.body, response.headers);
    return response;
  }
}

/**
 * SMS through Twilio's Messages API with the official SDK. The message SID is the provider's
 * message id; delivery receipts come to the status callback URL.
 */
export class TwilioSmsProvider implements SmsProvider {
  readonly name = 'twilio';
  private readonly client: twilio.Twilio;

  constructor(
    private readonly options: TwilioOptions,
    _logger: Logger,
  ) {
    this.client = twilio(options.accountSid, options.authToken, {
      httpClient: new TwilioHttpClient(new URL(options.baseUrl), options.timeoutMs),
      autoRetry: false,
    });
  }

  async send(message: SmsMessage): Promise<Accepted> {
    try {
      const sent = await this.client.messages.create({
        to: message.to,
        from: this.options.from,
        body: message.text,
        ...(this.options.statusCallbackUrl && { statusCallback: this.options.statusCallbackUrl }),
      });
      return { providerMessageId: sent.sid };
    } catch (error) {
      // Twilio quotes the number it refuses (21211: "The 'To' number +33... is not a valid phone number"), in any form.
      throw withRecipientMasked(toProviderError(error), message.to);
    }
  }

  async close(): Promise<void> {}
}

/** What an error answer of Twilio means, from its status, its error code and its Retry-After. */
export function classifyTwilioResponse(status: number, body: unknown, headers: Readonly<Record<string, unknown>>): ProviderError {
  const parsed = (typeof body === 'string' ? safeJson(body) : body) as TwilioErrorBody | undefined;
  const detail = parsed?.message ? `${parsed.message}${parsed.code ? ` (Twilio error ${parsed.code})` : ''}` : '';
  const retryAfter = headers['retry-after'] as string | undefined;
  return errorForHttpStatus(parsed?.code === TOO_MANY_REQUESTS ? 429 : status, detail, { retryAfter });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
