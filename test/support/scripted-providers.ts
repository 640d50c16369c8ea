import { ProviderError, type Accepted, type EmailMessage, type EmailProvider, type ProviderErrorKind, type Providers, type PushMessage, type PushOutcome, type PushProvider, type SmsMessage, type SmsProvider } from '@notofine/providers';

/** What one provider call does: answer, or throw. */
export type Step<M, R> = (message: M) => R | Promise<R>;

/** A step that throws a classified provider error. */
export function failWith(kind: ProviderErrorKind, message: string, retryAfterMs?: number): Step<unknown, never> {
  return () => {
    throw new ProviderError(kind, message, retryAfterMs === undefined ? {} : { retryAfterMs });
  };
}

/** A step that holds the provider call until the test lets it answer: `reached` once the call is made, `release()` to answer. */
export interface HeldStep<M, R> {
  readonly step: Step<M, R>;
  readonly reached: Promise<M>;
  release(): void;
}

export function heldCall<M, R>(answer: (message: M) => R): HeldStep<M, R> {
  let reach!: (message: M) => void;
  let release!: () => void;
  const reached = new Promise<M>((resolve) => (reach = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return {
    reached,
    release,
    step: async (message) => {
      reach(message);
      await released;
      return answer(message);
    },
  };
}

/**
 * A provider that records every message it gets and follows a script: each call consumes the next
 * step, and once the script is spent every call is accepted. It stands in for an external service
 * in the worker's tests (the real providers' SDKs are tested against loopback servers).
 */
class ScriptedProvider<M, R> {
  readonly name = 'scripted';
  readonly calls: M[] = [];
  private readonly steps: Array<Step<M, R>> = [];

  constructor(private readonly accept: Step<M, R>) {}

  /** Adds steps for the next calls. */
  script(...steps: Array<Step<M, R>>): this {
    this.steps.push(...steps);
    return this;
  }

  async send(message: M): Promise<R> {
    this.calls.push(message);
    const step = this.steps.shift() ?? this.accept;
    return step(message);
  }

  async close(): Promise<void> {}
}

export class ScriptedProviders implements Providers {
  readonly email = new ScriptedProvider<EmailMessage, Accepted>((m) => ({ providerMessageId: `email-${m.notificationId}` })) satisfies EmailProvider;
  readonly sms = new ScriptedProvider<SmsMessage, Accepted>((m) => ({ providerMessageId: `sms-${m.notificationId}` })) satisfies SmsProvider;
  readonly push = new ScriptedProvider<PushMessage, PushOutcome>((m) => ({
    accepted: m.tokens.map((token, index) => ({ token, providerMessageId: `push-${m.notificationId}-${index}` })),
    refused: [],
  })) satisfies PushProvider;
}
