import { applyDeliveryReceipt, setSmsOptOutByPhone, type DeliveryReceipt } from '@notofine/db';
import { WEBHOOK_PATHS } from '@notofine/config';
import express, { Router, type Request, type RequestHandler } from 'express';
import type { ApiDeps } from '../deps';
import { sendGridPublicKey, sendGridReceipts, verifySendGridSignature } from './sendgrid';
import { unreadableReceipt, webhookNotConfigured } from './signature-error';
import { smsReplyIntent } from './sms-replies';
import { normalizePhone } from '../users/contact';
import { twilioParam, twilioParams, twilioReceipt, verifyTwilioSignature } from './twilio';
import { verifyVonageSignature, vonageReceipt } from './vonage';

/** The body as it came, for the checks of signatures made over it. */
function rawBodyOf(req: Request): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/** A request's parameters as flat strings: the query string, and a JSON or form body. */
function paramsOf(req: Request, provider: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.query)) if (typeof value === 'string') params[key] = value;
  const raw = rawBodyOf(req).toString('utf8');
  if (!raw) return params;
  if (req.is('application/json')) {
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      throw unreadableReceipt(provider, 'the body is not JSON');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw unreadableReceipt(provider, 'the body is not an object');
    for (const [key, value] of Object.entries(body)) if (typeof value === 'string' || typeof value === 'number') params[key] = String(value);
    return params;
  }
  for (const [key, value] of new URLSearchParams(raw)) params[key] = value;
  return params;
}

/**
 * Delivery receipts from the providers, mounted before API-key authentication and JSON parsing:
 * providers authenticate by signing the raw body, which must reach the check untouched. A well
 * signed receipt always gets a 2xx, even for a message id nobody knows (providers retry anything
 * else); a bad signature gets 401 and changes nothing.
 */
export function webhookRoutes({ config, dataSource, logger }: ApiDeps): Router {
  const router = Router();
  // SendGrid posts its events in batches of up to about 768 kB: the webhooks have a limit of their own.
  const raw = express.raw({ type: () => true, limit: config.http.webhookBodyLimitBytes });
  const { sendgridPublicKey, vonageSignatureSecret, twilioAuthToken } = config.webhooks;
  const sendGridKey = sendgridPublicKey ? sendGridPublicKey(sendgridPublicKey) : undefined;
  const twilioOn = twilioAuthToken !== undefined && config.publicBaseUrl !== undefined;
  /** The raw body, read only when the webhook is on: one that is off answers 404 without taking an upload. */
  const rawBodyWhen =
    (on: boolean, provider: string, variables: string): RequestHandler =>
    (req, res, next) =>
      on ? raw(req, res, next) : next(webhookNotConfigured(provider, variables));

  const apply = async (receipts: readonly DeliveryReceipt[]) => {
    const outcomes = [];
    for (const receipt of receipts) outcomes.push(await applyDeliveryReceipt(dataSource.manager, receipt));
    const applied = outcomes.filter((outcome) => outcome === 'applied').length;
    if (receipts.length > 0) logger.info('delivery receipts', { provider: receipts[0]!.provider, received: receipts.length, applied });
    return { received: receipts.length, applied };
  };

  router.post(WEBHOOK_PATHS.sendgrid, rawBodyWhen(sendGridKey !== undefined, 'SendGrid', 'SENDGRID_WEBHOOK_PUBLIC_KEY'), async (req, res) => {
    const body = rawBodyOf(req);
    verifySendGridSignature(sendGridKey!, req.get('x-twilio-email-event-webhook-signature'), req.get('x-twilio-email-event-webhook-timestamp'), body);
    res.json(await apply(sendGridReceipts(body)));
  });

  router.all(WEBHOOK_PATHS.vonage, raw, async (req, res) => {
    const params = paramsOf(req, 'Vonage');
    // Without a signature secret, Vonage's receipts are unsigned: accepted as they come.
    if (vonageSignatureSecret) verifyVonageSignature(params, vonageSignatureSecret);
    const receipt = vonageReceipt(params);
    res.json(await apply(receipt ? [receipt] : []));
  });

  /** Applies a STOP or START reply, its signature checked, from a phone number; other replies are ignored. */
  const applyReply = async (provider: string, from: string | undefined, text: string | undefined) => {
    const intent = smsReplyIntent(text);
    if (!intent || !from) return;
    let phone: string;
    try {
      phone = normalizePhone(from, config.defaultPhoneRegion);
    } catch {
      return; // a short code or an alphanumeric sender: nobody of ours
    }
    const users = await setSmsOptOutByPhone(dataSource.manager, phone, intent === 'stop');
    logger.info(intent === 'stop' ? 'sms opt-out received' : 'sms opt-in received', { provider, phone, users });
  };

  // Vonage's inbound messages: `msisdn` is the sender, in international form without the plus.
  // Signed ones only: an unsigned STOP or START would let anyone switch anybody's SMS off, or back
  // on after they opted out.
  router.all(WEBHOOK_PATHS.vonageInbound, rawBodyWhen(vonageSignatureSecret !== undefined, 'Vonage inbound', 'VONAGE_SIGNATURE_SECRET'), async (req, res) => {
    const params = paramsOf(req, 'Vonage');
    verifyVonageSignature(params, vonageSignatureSecret!);
    await applyReply('vonage', params.msisdn && `+${params.msisdn.replace(/^\+/, '')}`, params.text);
    res.status(204).end();
  });

  router.post(WEBHOOK_PATHS.twilioInbound, rawBodyWhen(twilioOn, 'Twilio', 'TWILIO_AUTH_TOKEN and PUBLIC_BASE_URL'), async (req, res) => {
    const params = twilioParams(rawBodyOf(req));
    verifyTwilioSignature(twilioAuthToken!, req.get('x-twilio-signature'), `${config.publicBaseUrl}${req.originalUrl}`, params);
    await applyReply('twilio', twilioParam(params, 'From'), twilioParam(params, 'Body'));
    // An empty answer: Twilio sends no reply of its own (its opt-out handling confirms a STOP).
    res.status(204).end();
  });

  router.post(WEBHOOK_PATHS.twilio, rawBodyWhen(twilioOn, 'Twilio', 'TWILIO_AUTH_TOKEN and PUBLIC_BASE_URL'), async (req, res) => {
    const params = twilioParams(rawBodyOf(req));
    // Twilio signs the URL it called: the public one, not the one this process sees behind a proxy.
    verifyTwilioSignature(twilioAuthToken!, req.get('x-twilio-signature'), `${config.publicBaseUrl}${req.originalUrl}`, params);
    const receipt = twilioReceipt(params);
    res.json(await apply(receipt ? [receipt] : []));
  });

  return router;
}
