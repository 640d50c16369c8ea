import type { Config } from '@notofine/config';
import type { Logger } from '@notofine/logger';
import { OutboxEmailProvider, OutboxPushProvider, OutboxSmsProvider } from './outbox';
import type { Providers } from './provider';

/** The providers the configuration selects, one per channel. */
export function createProviders(config: Config['providers'], logger: Logger): Providers {
  // Each variable accepts only the providers that exist (the config schema enforces it), so every
  // case below is reachable; new providers add a case here and a value to the schema.
  const email = config.email === 'outbox' ? new OutboxEmailProvider(config.outboxDir, logger) : unreachable(config.email);
  const sms = config.sms === 'outbox' ? new OutboxSmsProvider(config.outboxDir, logger) : unreachable(config.sms);
  const push = config.push === 'outbox' ? new OutboxPushProvider(config.outboxDir, logger) : unreachable(config.push);
  return { email, sms, push };
}

function unreachable(value: never): never {
  throw new Error(`Unknown provider ${String(value)}`);
}

/** Closes every provider of a set. */
export async function closeProviders(providers: Providers): Promise<void> {
  await Promise.all([providers.email.close(), providers.sms.close(), providers.push.close()]);
}
