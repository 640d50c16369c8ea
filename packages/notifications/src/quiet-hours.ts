import type { Channel } from '@notofine/db';
import { DateTime, FixedOffsetZone } from 'luxon';

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
 * quiet hours. The window is read on the user's wall clock: from its start included to its end
 * excluded, so that a window ends at 08:00 local time on the nights the clocks change too.
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
  return wallClockReaches(day, end, timezone, now);
}

/**
 * The first instant after `after` at which the wall clock of `zone`, on the date of `day`, reads
 * `minuteOfDay`. The night the clocks go back, that reading happens twice: the first one still
 * ahead counts. The night they go forward, it may never happen (02:30 in Paris on the last Sunday
 * of March): then it is the instant the clock jumps past it.
 */
function wallClockReaches(day: DateTime, minuteOfDay: number, zone: string, after: Date): Date | null {
  const wall = { year: day.year, month: day.month, day: day.day, hour: Math.floor(minuteOfDay / 60), minute: minuteOfDay % 60 };
  // The zone's offsets a day either side: they differ only when its clocks change around then.
  const asUtc = DateTime.fromObject(wall, { zone: 'utc' });
  const offsets = [...new Set([asUtc.minus({ days: 1 }).setZone(zone).offset, asUtc.plus({ days: 1 }).setZone(zone).offset])];
  const readings = offsets.map((offset) => DateTime.fromObject(wall, { zone: FixedOffsetZone.instance(offset) }));
  const reads = (instant: DateTime): boolean => {
    const there = instant.setZone(zone);
    return there.hour === wall.hour && there.minute === wall.minute;
  };
  const ahead = readings.filter((instant) => reads(instant) && instant.toMillis() > after.getTime()).sort((a, b) => a.toMillis() - b.toMillis());
  if (ahead[0]) return ahead[0].toJSDate();
  if (readings.some(reads)) return null;
  // Skipped by the change to summer time: the instant of the change lies between the two readings.
  const instants = readings.map((reading) => reading.toMillis());
  let before = Math.min(...instants);
  let past = Math.max(...instants);
  const offsetAfter = DateTime.fromMillis(past, { zone }).offset;
  while (past - before > 1) {
    const middle = Math.floor((before + past) / 2);
    if (DateTime.fromMillis(middle, { zone }).offset === offsetAfter) past = middle;
    else before = middle;
  }
  return new Date(past);
}
