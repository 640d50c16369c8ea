import { createHash } from 'node:crypto';
import type { NotificationCursor, NotificationFilters } from '@notofine/db';
import { ValidationError } from '@notofine/errors';

/** What ISO strings `toISOString()` writes for years 0 to 9999; other dates JavaScript accepts are beyond PostgreSQL's range. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * The listing a cursor belongs to: whose notifications (a user's, or everyone's) and which filters.
 * A cursor carries it, so that the next page is never read with other filters than the first.
 */
export interface Listing {
  /** The user whose notifications are listed; undefined for everyone's. */
  readonly userId: number | undefined;
  readonly filters: NotificationFilters;
}

/** The opaque `next_cursor` of a page: where the next page starts, and the listing it belongs to. */
export function encodeCursor(cursor: NotificationCursor, listing: Listing): string {
  return Buffer.from(JSON.stringify([cursor.createdAt.toISOString(), cursor.id, fingerprintOf(listing)])).toString('base64url');
}

/**
 * @throws {@link ValidationError} for anything but a cursor this API gave out for the same listing
 *   (the same user, the same filters)
 */
export function decodeCursor(value: string, listing: Listing): NotificationCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    // reported below
  }
  if (Array.isArray(parsed) && (parsed.length === 2 || parsed.length === 3) && typeof parsed[0] === 'string' && ISO_INSTANT.test(parsed[0]) && Number.isSafeInteger(parsed[1]) && (parsed[1] as number) > 0) {
    const createdAt = new Date(parsed[0]);
    if (!Number.isNaN(createdAt.getTime())) {
      // Cursors given out before they carried their listing: valid without the filters that came with it.
      const fingerprint = parsed.length === 3 ? parsed[2] : fingerprintOf({ userId: listing.userId, filters: { status: listing.filters.status } });
      if (fingerprint !== fingerprintOf(listing)) {
        throw ValidationError.forField(
          'query.cursor',
          'belongs to a listing with other filters: pass the same status, channel, since and until (and user) as for the page that gave it, or start again without a cursor',
        );
      }
      return { createdAt, id: parsed[1] as number };
    }
  }
  throw ValidationError.forField('query.cursor', 'is not a cursor this API gave out: pass the next_cursor of the previous page');
}

/** A short digest of a listing; dates as instants, so that `+01:00` and `Z` spellings of one moment agree. */
function fingerprintOf({ userId, filters }: Listing): string {
  const key = JSON.stringify([userId ?? null, filters.status ?? null, filters.channel ?? null, filters.since?.toISOString() ?? null, filters.until?.toISOString() ?? null]);
  return createHash('sha256').update(key).digest('base64url').slice(0, 16);
}
