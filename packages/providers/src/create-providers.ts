import { webhookUrl, type Config } from '@notofine/config';
import type { Logger } from '@notofine/logger';
import { FcmPushProvider } from './fcm';
import { OutboxEmailProvider, OutboxPushProvider, OutboxSmsProvider } from './outbox';
import type { EmailProvider, Providers, PushProvider, SmsProvider } from './provider';
import { SendGridEmailProvider } from './sendgrid';
import { SmtpEmailProvider } from './smtp';
import { TwilioSmsProvider } from './twilio';
import { VonageSmsProvider } from './vonage';

/**
 * The providers the configuration selects, one per channel. The configuration has already checked
 * that the settings of each provider in use are there.
 */
export function createProviders(config: Config['providers'], logger: Logger, publicBaseUrl?: string): Providers {
  return { email: emailProvider(config, logger), sms: smsProvider(config, logger, publicBaseUrl), push: pushProvider(config, logger) };
}

function emailProvider(config: Config['providers'], logger: Logger): EmailProvider {
  const { timeoutMs } = config;
  switch (config.email) {
    case 'outbox':
      return new OutboxEmailProvider(config.outboxDir, logger);
    case 'smtp':
      return new SmtpEmailProvider({ ...config.smtp!, from: config.emailFrom!, timeoutMs }, logger);
    case 'sendgrid':
      return new SendGridEmailProvider({ ...config.sendgrid!, from: config.emailFrom!, timeoutMs }, logger);
  }
}

function smsProvider(config: Config['providers'], logger: Logger, publicBaseUrl: string | undefined): SmsProvider {
  const { timeoutMs } = config;
  switch (config.sms) {
    case 'outbox':
      return new OutboxSmsProvider(config.outboxDir, logger);
    case 'vonage':
      return new VonageSmsProvider({ ...config.vonage!, from: config.smsFrom!, timeoutMs, statusCallbackUrl: webhookUrl(publicBaseUrl, 'vonage') }, logger);
    case 'twilio':
      return new TwilioSmsProvider({ ...config.twilio!, from: config.smsFrom!, timeoutMs, statusCallbackUrl: webhookUrl(publicBaseUrl, 'twilio') }, logger);
  }
}

function pushProvider(config: Config['providers'], logger: Logger): PushProvider {
  switch (config.push) {
    case 'outbox':
      return new OutboxPushProvider(config.outboxDir, logger);
    case 'fcm':
      return new FcmPushProvider({ ...config.fcm!, timeoutMs: config.timeoutMs }, logger);
  }
}

/** Closes every provider of a set. */
export async function closeProviders(providers: Providers): Promise<void> {
  await Promise.all([providers.email.close(), providers.sms.close(), providers.push.close()]);
}
