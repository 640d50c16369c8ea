import type { Logger } from '@notofine/logger';
import { SMS, TypeEnum } from '@vonage/sms';
import { errorForHttpStatus, toProviderError } from './classify';
import { withRecipientMasked } from './recipient-masking';
import { isGsm7 } from './gsm';
import { ProviderError, type Accepted, type ProviderErrorKind, type SmsMessage, type SmsProvider } from './provider';

export interface VonageOptions {
  readonly apiKey: string;
  readonly apiSecret: string;
  /** `https://rest.nexmo.com`, the SMS API's host (or a test double). */
  readonly baseUrl: string;
  /** Sender: a number in E.164 or an alphanumeric sender id. */
  readonly from: string;
  readonly timeoutMs: number;
  /** Where Vonage posts the delivery receipts, when the API's public address is known. */
  readonly statusCallbackUrl: string | undefined;
}

/** One part of the SMS API's answer (the SDK camel-cases the wire's kebab-case keys). */
interface VonageMessageStatus {
  readonly status?: string;
  readonly errorText?: string;
  readonly messageId?: string;
}

/** Per-message status codes of the SMS API: throttled; worth retrying; anything else fails. */
const THROTTLED = '1';
const TRANSIENT = new Set(['5', '10']);

/**
 * SMS through Vonage's SMS API with the official SDK's SMS client (`@vonage/sms`, not the whole
 * `@vonage/server-sdk`; `restHost` = `baseUrl`, requests bounded by `timeoutMs`). A long text goes
 * out as several parts; it is accepted when every part is, and the first part's message id is kept. The per-message `status` codes decide what a refusal means,
 * because the SDK's failure classes do not carry that decision.
 */
export class VonageSmsProvider implements SmsProvider {
  readonly name = 'vonage';
  private readonly sms: SMS;

  constructor(
    private readonly options: VonageOptions,
    _logger: Logger,
  ) {
    this.sms = new SMS({ apiKey: options.apiKey, apiSecret: options.apiSecret }, { restHost: options.baseUrl, timeout: options.timeoutMs });
  }

  async send(message: SmsMessage): Promise<Accepted> {
    try {
      return await this.sendParts(message);
    } catch (error) {
      throw withRecipientMasked(toProviderError(error), message.to);
    }
  }

  private async sendParts(message: SmsMessage): Promise<Accepted> {
    let messages: readonly VonageMessageStatus[];
    try {
      const response = await this.sms.send({
        to: message.to.replace(/^\+/, ''),
        from: this.options.from.replace(/^\+/, ''),
        text: message.text,
        clientRef: String(message.notificationId),
        ...(!isGsm7(message.text) && { type: TypeEnum.UNICODE }),
        ...(this.options.statusCallbackUrl && { callback: this.options.statusCallbackUrl }),
      });
      messages = response.messages;
    } catch (error) {
      messages = failedMessagesOf(error) ?? [];
      if (messages.length === 0) throw classifyVonageHttpError(error);
    }
    const refused = messages.filter((part) => part.status !== '0');
    if (refused.length > 0 || messages.length === 0) throw classifyVonageStatuses(refused);
    return { providerMessageId: messages[0]?.messageId ?? null };
  }

  async close(): Promise<void> {}
}

/** The parts of a `MessageSendAllFailure` / `MessageSendPartialFailure`, or undefined for other errors. */
function failedMessagesOf(error: unknown): readonly VonageMessageStatus[] | undefined {
  const failure = error as { getMessages?: () => VonageMessageStatus[] } | null;
  return typeof failure?.getMessages === 'function' ? failure.getMessages() : undefined;
}

/** The refused parts of an answer: throttled, retriable or failed, the most hopeful first. */
export function classifyVonageStatuses(refused: readonly VonageMessageStatus[]): ProviderError {
  const describe = (part: VonageMessageStatus) => `status ${part.status ?? '?'}${part.errorText ? ` (${part.errorText})` : ''}`;
  const detail = [...new Set(refused.map(describe))].join(', ') || 'no message in the answer';
  const kind: ProviderErrorKind = refused.some((part) => part.status === THROTTLED)
    ? 'throttle'
    : refused.some((part) => TRANSIENT.has(part.status ?? ''))
      ? 'retry'
      : 'fail';
  // Vonage throttles per second: try again in a second.
  return new ProviderError(kind, `Vonage refused the SMS: ${detail}`, kind === 'throttle' ? { retryAfterMs: 1000 } : {});
}

/** An HTTP-level failure of the SDK (VetchError carries the fetch Response), a timeout or a network error. */
function classifyVonageHttpError(error: unknown): ProviderError {
  const response = (error as { response?: { status: number; headers: { get(name: string): string | null } } } | null)?.response;
  if (response && typeof response.status === 'number') {
    return errorForHttpStatus(response.status, '', { retryAfter: response.headers.get('retry-after'), cause: error });
  }
  if ((error as { name?: string } | null)?.name === 'AbortError') return new ProviderError('retry', 'no answer in time (timeout)', { cause: error });
  return toProviderError(error);
}
