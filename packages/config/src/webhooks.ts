/**
 * Where the API receives each provider's delivery receipts. Providers that take a per-message
 * callback URL (Vonage, Twilio) are given `PUBLIC_BASE_URL` + this path; SendGrid's is set once in
 * its console.
 */
export const WEBHOOK_PATHS = {
  sendgrid: '/webhooks/sendgrid',
  vonage: '/webhooks/vonage',
  twilio: '/webhooks/twilio',
  /** Replies to SMS (STOP, START): set as the number's inbound webhook in the provider's console. */
  vonageInbound: '/webhooks/vonage/inbound',
  twilioInbound: '/webhooks/twilio/inbound',
} as const;

/** The callback URL of a provider's receipts, when the API's public address is known. */
export function webhookUrl(publicBaseUrl: string | undefined, provider: keyof typeof WEBHOOK_PATHS): string | undefined {
  return publicBaseUrl ? `${publicBaseUrl}${WEBHOOK_PATHS[provider]}` : undefined;
}
