import type { NotificationCursor } from '@notofine/db';
import { ValidationError } from '@notofine/errors';

/** What `toISOString()` writes for years 0 to 9999; other dates JavaScript accepts are beyond PostgreSQL's range. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The opaque `next_cursor` of a page: where the next page starts. */
export function encodeCursor(cursor: NotificationCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt.toISOString(), cursor.id])).toString('base64url');
}

/** @throws {@link ValidationError} for anything but a cursor this API gave out */
export function decodeCursor(value: string): NotificationCursor {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && ISO_INSTANT.test(parsed[0]) && Number.isSafeInteger(parsed[1]) && (parsed[1] as number) > 0) {
      const createdAt = new Date(parsed[0]);
      if (!Number.isNaN(createdAt.getTime())) return { createdAt, id: parsed[1] as number };
    }
  } catch {
    // reported below
  }
  throw ValidationError.forField('query.cursor', 'is not a cursor this API gave out: pass the next_cursor of the previous page');
}
