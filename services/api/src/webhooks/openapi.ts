import { WEBHOOK_PATHS } from '@notofine/config';
import { empty, json, problem, record, ref, signedBy, type ApiDomain, type BodyDoc } from '../docs/operation';

const FORM: BodyDoc = {
  required: false,
  description: 'The provider\'s parameters.',
  content: { 'application/x-www-form-urlencoded': { type: 'object', additionalProperties: { type: 'string' } } },
};
const FORM_OR_JSON: BodyDoc = {
  required: false,
  description: 'The provider\'s parameters (or in the query string).',
  content: { ...FORM.content, 'application/json': { type: 'object' } },
};
const INVALID_SIGNATURE = problem('The signature is missing, wrong or over 5 minutes old: nothing was changed.');
const NOT_CONFIGURED = problem('The provider\'s secret is not configured: the webhook is off.');
const UNREADABLE = problem('The receipt cannot be read.');
const TWILIO_SIGNED = signedBy('signed by Twilio with TWILIO_AUTH_TOKEN over the public URL it called (PUBLIC_BASE_URL, the path and any query string) and the form parameters');
const APPLIED = json('Receipts received and applied (a receipt for an unknown message counts as received).', ref('ReceiptsApplied'));

/** The providers' webhooks (routes.ts) as the OpenAPI document shows them. */
export const webhookApi: ApiDomain = {
  tag: { name: 'Webhooks', description: 'Delivery receipts and SMS replies, called by the providers and authenticated by their signatures.' },
  schemas: {
    ReceiptsApplied: record({ received: { type: 'integer', minimum: 0 }, applied: { type: 'integer', minimum: 0, description: 'Those that changed a notification.' } }),
  },
  operations: [
    {
      method: 'post',
      path: WEBHOOK_PATHS.sendgrid,
      summary: 'SendGrid event webhook',
      description: 'Delivered, bounce and dropped events move sent emails to `delivered`, `bounced` or `undelivered`.',
      access: signedBy('signed with SENDGRID_WEBHOOK_PUBLIC_KEY (Signed Event Webhook Requests)'),
      body: { description: 'SendGrid\'s events.', content: { 'application/json': { type: 'array', items: { type: 'object' } } } },
      responses: { 200: APPLIED, 400: UNREADABLE, 401: INVALID_SIGNATURE, 404: NOT_CONFIGURED },
    },
    ...(['get', 'post'] as const).map((method) => ({
      method,
      path: WEBHOOK_PATHS.vonage,
      summary: 'Vonage delivery receipt',
      access: signedBy('signed with VONAGE_SIGNATURE_SECRET when it is set (SHA-256 HMAC), else unsigned'),
      ...(method === 'post' && { body: FORM_OR_JSON }),
      responses: { 200: APPLIED, 400: UNREADABLE, 401: INVALID_SIGNATURE },
    })),
    ...(['get', 'post'] as const).map((method) => ({
      method,
      path: WEBHOOK_PATHS.vonageInbound,
      summary: 'Vonage inbound SMS (STOP, START)',
      description: '`STOP` (or `ARRET`, `UNSUBSCRIBE`, ...) turns SMS off for the sender\'s number, `START` on again; other texts are ignored.',
      access: signedBy('signed with VONAGE_SIGNATURE_SECRET (SHA-256 HMAC); off while it is not set, since an unsigned STOP could switch anyone\'s SMS off'),
      ...(method === 'post' && { body: FORM_OR_JSON }),
      responses: { 204: empty('Taken into account.'), 400: UNREADABLE, 401: INVALID_SIGNATURE, 404: NOT_CONFIGURED },
    })),
    {
      method: 'post',
      path: WEBHOOK_PATHS.twilio,
      summary: 'Twilio status callback',
      access: TWILIO_SIGNED,
      body: FORM,
      responses: { 200: APPLIED, 400: UNREADABLE, 401: INVALID_SIGNATURE, 404: NOT_CONFIGURED },
    },
    {
      method: 'post',
      path: WEBHOOK_PATHS.twilioInbound,
      summary: 'Twilio inbound SMS (STOP, START)',
      description: 'As Vonage\'s; the answer is empty, so that Twilio sends no reply of its own.',
      access: TWILIO_SIGNED,
      body: FORM,
      responses: { 204: empty('Taken into account.'), 400: UNREADABLE, 401: INVALID_SIGNATURE, 404: NOT_CONFIGURED },
    },
  ],
};
