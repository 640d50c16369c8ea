import { AppError, NotFoundError, ValidationError } from '@notofine/errors';

/** 401 for a receipt whose signature is missing, wrong or stale: nothing is changed. */
export class InvalidSignatureError extends AppError {
  constructor(detail: string) {
    super(401, 'invalid-signature', 'Invalid webhook signature', detail);
  }
}

/** 404 for the webhook of a provider whose secret is not configured. */
export function webhookNotConfigured(provider: string, variables: string): NotFoundError {
  return new NotFoundError(`The ${provider} webhook is not configured (set ${variables}); webhook`);
}

/** 400 for a receipt that cannot be read. */
export function unreadableReceipt(provider: string, why: string): ValidationError {
  return new ValidationError(`The ${provider} receipt cannot be read: ${why}.`);
}

/** How old a signed timestamp may be: receipts replayed later are refused. */
export const SIGNATURE_TOLERANCE_MS = 5 * 60_000;
