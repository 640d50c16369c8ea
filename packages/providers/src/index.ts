export * from './provider';
export { errorForHttpStatus, parseRetryAfter, toProviderError } from './classify';
export { OutboxEmailProvider, OutboxPushProvider, OutboxSmsProvider } from './outbox';
export { SmtpEmailProvider, type SmtpOptions } from './smtp';
export { SendGridEmailProvider, type SendGridOptions } from './sendgrid';
export { VonageSmsProvider, type VonageOptions } from './vonage';
export { TwilioSmsProvider, type TwilioOptions } from './twilio';
export { FcmPushProvider, type FcmOptions } from './fcm';
export { createProviders, closeProviders } from './create-providers';
