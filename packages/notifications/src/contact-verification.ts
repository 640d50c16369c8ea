import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import type { Channel, Contact } from '@notofine/db';
import { MASKED_CODE, renderServiceTemplate, type TemplateUser } from './templates';

/**
 * Proof of ownership of an address: a code of six digits sent there, given back by its owner. The
 * rules live here, for the API (which asks for codes and checks them) and the worker (which draws
 * each code as its message goes out).
 */
export const VERIFICATION = {
  /** How long a code is good once sent. */
  codeTtlMs: 15 * 60_000,
  /** Wrong codes a verification takes, all its codes together; at the last one it is dropped. */
  maxFailedAttempts: 5,
  /** One code a minute at most to one address for one user. */
  resendAfterMs: 60_000,
  /** Codes one user may be sent, all their addresses together. */
  perUser: { max: 5, durationMs: 3_600_000 },
  /** Codes one address may be sent, whichever users asked: SMS pumping targets numbers. */
  perAddress: { max: 5, durationMs: 86_400_000 },
} as const;

/** The kind its messages are written from, shown as the notification's `template`. */
export const VERIFICATION_TEMPLATE = 'contact_verification';

/** The channel that proves each contact. */
export const CONTACT_CHANNEL: Readonly<Record<Contact, Extract<Channel, 'email' | 'sms'>>> = { email: 'email', phone: 'sms' };

/** A fresh code: six digits, drawn from a secure source. */
export function drawVerificationCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

/** What a verification keeps of its code: its SHA-256, salted with the verification's id. */
export function verificationCodeHash(verificationId: number, code: string): string {
  return createHash('sha256').update(`notofine-verification:${verificationId}:${code}`).digest('hex');
}

/** Whether `code` is the one whose hash the verification keeps, compared in constant time. */
export function verificationCodeMatches(verificationId: number, code: string, codeHash: string): boolean {
  const given = Buffer.from(verificationCodeHash(verificationId, code), 'hex');
  const kept = Buffer.from(codeHash, 'hex');
  return given.length === kept.length && timingSafeEqual(given, kept);
}

/** A verification message as the notification row keeps it, or as it goes out with its code. */
export interface VerificationMessage {
  readonly message: string;
  readonly subject: string | null;
  readonly html: string | null;
}

/**
 * The message carrying a code, in the user's language: a fixed text with the code and its
 * lifetime, nothing else (it goes to an address nobody proved yet: it must not carry anything a
 * user could write). Without `code`, the code is masked: what the notification row keeps.
 */
export function verificationMessage(contact: Contact, user: TemplateUser, code: string = MASKED_CODE): VerificationMessage {
  const data = { code, minutes: VERIFICATION.codeTtlMs / 60_000 };
  if (CONTACT_CHANNEL[contact] === 'sms') return { message: renderServiceTemplate(VERIFICATION_TEMPLATE, 'sms', data, user).text, subject: null, html: null };
  const email = renderServiceTemplate(VERIFICATION_TEMPLATE, 'email', data, user);
  return { message: email.text, subject: email.subject, html: email.html };
}
