import type { Channel } from '@notofine/db';

/** A user's contact points, as far as reaching them goes. */
export interface ContactPoints {
  readonly email: string | null;
  readonly phone: string | null;
  readonly hasActiveDevice: boolean;
}

/**
 * Why a channel cannot reach this user (no address on file), or null when it can.
 * The reason completes the sentence "the user ...".
 */
export function unreachableReason(contact: ContactPoints, channel: Channel): string | null {
  switch (channel) {
    case 'email':
      return contact.email ? null : 'has no email address';
    case 'sms':
      return contact.phone ? null : 'has no phone number';
    case 'push':
      return contact.hasActiveDevice ? null : 'has no active push device';
  }
}

/** A user's contact points, and whether they proved the addresses are theirs. */
export interface ProvenContactPoints extends ContactPoints {
  readonly emailVerified: boolean;
  readonly phoneVerified: boolean;
}

/**
 * Why text written with a user token may not go out on a channel: the user has not proven its
 * address (with a code sent there), so it could be anyone's. Null when it may. A push device
 * counts as proven: its token is given to one installation of the app by the push service, and a
 * push reaches that installation only.
 * The reason completes the sentence "the user ...".
 */
export function unprovenReason(contact: ProvenContactPoints, channel: Channel): string | null {
  switch (channel) {
    case 'email':
      return contact.emailVerified ? null : 'has not proven their email address';
    case 'sms':
      return contact.phoneVerified ? null : 'has not proven their phone number';
    case 'push':
      return null;
  }
}

/** How to give the user the missing contact point, for error details. */
export const HOW_TO_REACH: Readonly<Record<Channel, string>> = {
  email: 'set one with PATCH /users/{id}',
  sms: 'set one with PATCH /users/{id}',
  push: 'register one with POST /users/{id}/devices',
};
