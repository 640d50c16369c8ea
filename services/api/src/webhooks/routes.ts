import { applyDeliveryReceipt, applySmsReply, type DeliveryReceipt } from '@notofine/db';
import { WEBHOOK_PATHS } from '@notofine/config';
import { ValidationError } from '@notofine/errors';
import express, { Router, type Request, type RequestHandler } from 'express';
import type { ApiDeps } from '../deps';
import { sendGridPublicKey, sendGridReceipts, verifySendGridSignature } from './sendgrid';
import { unreadableReceipt, webhookNotConfigured } from './signature-error';
import { smsReplyIntent } from './sms-replies';
import { normalizePhone } from '../users/contact';
import { parseStrictForm } from '../http/strict-form';
import { checkText, parseCheckedJson } from '../http/strict-json';
import { twilioReceipt, verifyTwilioSignature, type TwilioParams } from './twilio';
import { verifyVonageSignature, vonageReceipt } from './vonage';

/** The body as it came, for the checks of signatures made over it. */
function rawBodyOf(req: Request): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/**
 * A request's parameters as flat strings: the query string (unless `fromQuery` is false), and a
 * JSON or form body. Read as strictly as the API's own bodies (see strict-json.ts): a parameter
 * given twice, a NUL, a lone surrogate, deep nesting or a number beyond 2^53 is refused with 400
 * naming it.
 */
function paramsOf(req: Request, provider: string, { fromQuery = true } = {}): Record<string, string> {
  const params: Record<string, string> = {};
  const add = (key: string, value: string) => {
    checkText(key, key);
    checkText(key, value);
    if (Object.hasOwn(params, key)) throw ValidationError.forField(key, 'is given more than once: send each parameter once');
    params[key] = value;
  };
  if (fromQuery) {
    for (const [key, value] of Object.entries(req.query)) {
      if (typeof value !== 'string') throw ValidationError.forField(key, 'is given more than once: send each parameter once');
      add(key, value);
    }
  }
  const raw = rawBodyOf(req);
  if (raw.length === 0) return params;
  if (req.is('application/json')) {
    const body = parseCheckedJson(raw);
    if (body === undefined) throw unreadableReceipt(provider, 'the body is not JSON');
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw unreadableReceipt(provider, 'the body is not an object');
    for (const [key, value] of Object.entries(body)) if (typeof value === 'string' || typeof value === 'number') add(key, String(value));
    return params;
  }
  for (const [key, value] of Object.entries(parseStrictForm(raw))) add(key, value);
  return params;
}

/**
 * The parameters Twilio signs: those of the body only. Twilio signs the URL it called, query string
 * included, then the POST parameters: a query parameter counted again among them would make the
 * signature mismatch.
 */
function twilioParamsOf(req: Request): TwilioParams {
  return paramsOf(req, 'Twilio', { fromQuery: false });
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
    const receipts = sendGridReceipts(body);
    verifySendGridSignature(sendGridKey!, req.get('x-twilio-email-event-webhook-signature'), req.get('x-twilio-email-event-webhook-timestamp'), body);
    res.json(await apply(receipts));
  });

  router.all(WEBHOOK_PATHS.vonage, raw, async (req, res) => {
    const params = paramsOf(req, 'Vonage');
    // Without a signature secret, Vonage's receipts are unsigned: accepted as they come.
    if (vonageSignatureSecret) verifyVonageSignature(params, vonageSignatureSecret);
    const receipt = vonageReceipt(params);
    res.json(await apply(receipt ? [receipt] : []));
  });

  /**
   * Applies a STOP or START reply, its signature checked, from a phone number, once per inbound
   * message (a replayed request changes nothing); other replies are ignored.
   */
  const applyReply = async (provider: string, messageId: string | undefined, from: string | undefined, text: string | undefined) => {
    const intent = smsReplyIntent(text);
    if (!intent || !from) return;
    if (!messageId || messageId.length > 255) throw unreadableReceipt(provider, 'a STOP or START needs the message id of the reply (at most 255 characters)');
    let phone: string;
    try {
      phone = normalizePhone(from, config.defaultPhoneRegion);
    } catch {
      return; // a short code or an alphanumeric sender: nobody of ours
    }
    const outcome = await applySmsReply(dataSource.manager, { provider, messageId, phone, optOut: intent === 'stop' });
    if (outcome.replayed) logger.warn('sms reply already applied, ignored', { provider, message_id: messageId, phone });
    else logger.info(intent === 'stop' ? 'sms opt-out received' : 'sms opt-in received', { provider, message_id: messageId, phone, users: outcome.users });
  };

  // Vonage's inbound messages: `msisdn` is the sender, in international form without the plus.
  // Signed ones only: an unsigned STOP or START would let anyone switch anybody's SMS off, or back
  // on after they opted out.
  router.all(WEBHOOK_PATHS.vonageInbound, rawBodyWhen(vonageSignatureSecret !== undefined, 'Vonage inbound', 'VONAGE_SIGNATURE_SECRET'), async (req, res) => {
    const params = paramsOf(req, 'Vonage');
    verifyVonageSignature(params, vonageSignatureSecret!);
    await applyReply('vonage', params.messageId, params.msisdn && `+${params.msisdn.replace(/^\+/, '')}`, params.text);
    res.status(204).end();
  });

  router.post(WEBHOOK_PATHS.twilioInbound, rawBodyWhen(twilioOn, 'Twilio', 'TWILIO_AUTH_TOKEN and PUBLIC_BASE_URL'), async (req, res) => {
    const params = twilioParamsOf(req);
    verifyTwilioSignature(twilioAuthToken!, req.get('x-twilio-signature'), `${config.publicBaseUrl}${req.originalUrl}`, params);
    await applyReply('twilio', params.MessageSid, params.From, params.Body);
    // An empty answer: Twilio sends no reply of its own (its opt-out handling confirms a STOP).
    res.status(204).end();
  });

  router.post(WEBHOOK_PATHS.twilio, rawBodyWhen(twilioOn, 'Twilio', 'TWILIO_AUTH_TOKEN and PUBLIC_BASE_URL'), async (req, res) => {
    const params = twilioParamsOf(req);
    // Twilio signs the URL it called: the public one, not the one this process sees behind a proxy.
    verifyTwilioSignature(twilioAuthToken!, req.get('x-twilio-signature'), `${config.publicBaseUrl}${req.originalUrl}`, params);
    const receipt = twilioReceipt(params);
    res.json(await apply(receipt ? [receipt] : []));
  });

  return router;
}
