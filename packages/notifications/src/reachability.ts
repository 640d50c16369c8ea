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

/** How to give the user the missing contact point, for error details. */
export const HOW_TO_REACH: Readonly<Record<Channel, string>> = {
  email: 'set one with PATCH /users/{id}',
  sms: 'set one with PATCH /users/{id}',
  push: 'register one with POST /users/{id}/devices',
};
