import type { Channel } from '@notofine/db';
import { DateTime } from 'luxon';

/** A user's quiet hours: a daily window, `HH:MM` to `HH:MM` in their time zone, that may wrap midnight. */
export interface QuietHours {
  readonly start: string;
  readonly end: string;
  /** Whether email waits too (by default only SMS and push do). */
  readonly email: boolean;
}

/** Quiet hours users have until they change them. */
export const DEFAULT_QUIET_HOURS: QuietHours = { start: '21:00', end: '08:00', email: false };

export const TIME_OF_DAY = /^([01]\d|2[0-3]):[0-5]\d$/;

const minutesOf = (time: string): number => Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));

/**
 * When a notification on `channel` may be delivered: null if now, otherwise the end of the user's
 * quiet hours. Computed on the user's wall clock, so a window ends at 08:00 local time on the
 * night the clocks change too.
 */
export function quietUntil(channel: Channel, quiet: QuietHours | null, timezone: string, now: Date): Date | null {
  if (!quiet || (channel === 'email' && !quiet.email)) return null;
  const start = minutesOf(quiet.start);
  const end = minutesOf(quiet.end);
  if (start === end) return null;

  const local = DateTime.fromJSDate(now, { zone: timezone });
  const minute = local.hour * 60 + local.minute;
  const wraps = start > end;
  const inWindow = wraps ? minute >= start || minute < end : minute >= start && minute < end;
  if (!inWindow) return null;

  // The window ends today if its end is still ahead on today's clock, else tomorrow.
  const day = minute < end ? local : local.plus({ days: 1 });
  const until = DateTime.fromObject({ year: day.year, month: day.month, day: day.day, hour: Math.floor(end / 60), minute: end % 60 }, { zone: timezone });
  return until.toJSDate();
}
