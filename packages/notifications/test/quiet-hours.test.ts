import { DEFAULT_QUIET_HOURS, quietUntil } from '../src/quiet-hours';

const paris = (iso: string) => new Date(iso);
const at = (channel: 'email' | 'sms' | 'push', iso: string, quiet = DEFAULT_QUIET_HOURS, timezone = 'Europe/Paris') => quietUntil(channel, quiet, timezone, paris(iso))?.toISOString() ?? null;

describe('quietUntil', () => {
  it('lets SMS and push through outside 21:00–08:00 local time, and holds them inside until 08:00', () => {
    expect(at('sms', '2026-06-10T18:59:00+02:00')).toBeNull();
    expect(at('sms', '2026-06-10T20:59:59+02:00')).toBeNull();
    expect(at('sms', '2026-06-10T21:00:00+02:00')).toBe('2026-06-11T06:00:00.000Z');
    expect(at('push', '2026-06-11T00:30:00+02:00')).toBe('2026-06-11T06:00:00.000Z');
    expect(at('push', '2026-06-11T07:59:59+02:00')).toBe('2026-06-11T06:00:00.000Z');
    expect(at('sms', '2026-06-11T08:00:00+02:00')).toBeNull();
  });

  it('leaves email alone unless the user asked for it', () => {
    expect(at('email', '2026-06-10T23:00:00+02:00')).toBeNull();
    expect(at('email', '2026-06-10T23:00:00+02:00', { ...DEFAULT_QUIET_HOURS, email: true })).toBe('2026-06-11T06:00:00.000Z');
  });

  it('ends at 08:00 on the wall clock across the change to summer time (a 10-hour night)', () => {
    // Sunday 29 March 2026, Paris goes from UTC+1 to UTC+2 at 02:00.
    expect(at('sms', '2026-03-28T22:30:00+01:00')).toBe('2026-03-29T06:00:00.000Z');
    expect(at('sms', '2026-03-29T03:30:00+02:00')).toBe('2026-03-29T06:00:00.000Z');
  });

  it('ends at 08:00 on the wall clock across the change to winter time (a 12-hour night)', () => {
    // Sunday 25 October 2026, Paris goes from UTC+2 to UTC+1 at 03:00.
    expect(at('push', '2026-10-24T21:30:00+02:00')).toBe('2026-10-25T07:00:00.000Z');
    // 02:30 happens twice that night; both are in the window.
    expect(at('push', '2026-10-25T02:30:00+02:00')).toBe('2026-10-25T07:00:00.000Z');
    expect(at('push', '2026-10-25T02:30:00+01:00')).toBe('2026-10-25T07:00:00.000Z');
  });

  it('ends at 08:00 on the wall clock of a user in New York on the nights the clocks change there', () => {
    const newYork = (iso: string) => at('sms', iso, DEFAULT_QUIET_HOURS, 'America/New_York');
    // Sunday 8 March 2026, New York goes from UTC-5 to UTC-4 at 02:00; Paris has not changed yet.
    expect(newYork('2026-03-07T22:00:00-05:00')).toBe('2026-03-08T12:00:00.000Z');
    expect(newYork('2026-03-08T03:30:00-04:00')).toBe('2026-03-08T12:00:00.000Z');
    // Sunday 1 November 2026, from UTC-4 to UTC-5 at 02:00; 01:30 happens twice.
    expect(newYork('2026-10-31T23:00:00-04:00')).toBe('2026-11-01T13:00:00.000Z');
    expect(newYork('2026-11-01T01:30:00-04:00')).toBe('2026-11-01T13:00:00.000Z');
    expect(newYork('2026-11-01T01:30:00-05:00')).toBe('2026-11-01T13:00:00.000Z');
    expect(newYork('2026-11-01T08:00:00-05:00')).toBeNull();
  });

  it('ends at 08:00 on the wall clock of a user in Sydney, whose summer time starts in October', () => {
    // Sunday 4 October 2026, Sydney goes from UTC+10 to UTC+11 at 02:00.
    expect(at('push', '2026-10-03T22:00:00+10:00', DEFAULT_QUIET_HOURS, 'Australia/Sydney')).toBe('2026-10-03T21:00:00.000Z');
    // Sunday 5 April 2026, back to UTC+10 at 03:00.
    expect(at('push', '2026-04-04T22:00:00+11:00', DEFAULT_QUIET_HOURS, 'Australia/Sydney')).toBe('2026-04-04T22:00:00.000Z');
  });

  it('ends a window whose end the change to summer time skips when the clock jumps past it', () => {
    const lateNight = { start: '22:00', end: '02:30', email: false };
    // 02:00 becomes 03:00 in Paris: 02:30 never shows; the window ends at 03:00 CEST.
    expect(at('sms', '2026-03-28T23:00:00+01:00', lateNight)).toBe('2026-03-29T01:00:00.000Z');
    expect(at('sms', '2026-03-29T01:59:00+01:00', lateNight)).toBe('2026-03-29T01:00:00.000Z');
    expect(at('sms', '2026-03-29T03:00:00+02:00', lateNight)).toBeNull();
    // Lord Howe Island moves by half an hour, 02:00 to 02:30: 02:15 never shows.
    expect(at('sms', '2026-10-03T23:00:00+10:30', { ...lateNight, end: '02:15' }, 'Australia/Lord_Howe')).toBe('2026-10-03T15:30:00.000Z');
  });

  it('ends a window whose end the change to winter time repeats at the first reading still ahead', () => {
    const lateNight = { start: '22:00', end: '02:30', email: false };
    // 03:00 CEST becomes 02:00 CET in Paris: 02:30 shows twice, and 02:00 to 02:30 is quiet twice.
    expect(at('sms', '2026-10-24T23:00:00+02:00', lateNight)).toBe('2026-10-25T00:30:00.000Z');
    expect(at('sms', '2026-10-25T02:40:00+02:00', lateNight)).toBeNull();
    expect(at('sms', '2026-10-25T02:10:00+01:00', lateNight)).toBe('2026-10-25T01:30:00.000Z');
    expect(at('sms', '2026-10-25T02:30:00+01:00', lateNight)).toBeNull();
  });

  it('on the nights the clocks change, ends every window after now, out of the window, just after its last quiet minute', () => {
    const windows = [DEFAULT_QUIET_HOURS, { start: '22:00', end: '02:30', email: false }, { start: '01:00', end: '02:30', email: false }, { start: '02:15', end: '06:00', email: false }, { start: '22:00', end: '02:15', email: false }];
    const nights = [
      ['Europe/Paris', '2026-03-28T18:00:00Z'],
      ['Europe/Paris', '2026-10-24T18:00:00Z'],
      ['America/New_York', '2026-03-07T23:00:00Z'],
      ['America/New_York', '2026-10-31T23:00:00Z'],
      ['Australia/Sydney', '2026-10-03T09:00:00Z'],
      ['Australia/Lord_Howe', '2026-10-03T09:00:00Z'],
    ] as const;
    let held = 0;
    for (const quiet of windows) {
      for (const [timezone, from] of nights) {
        for (let minute = 0; minute < 18 * 60; minute += 7) {
          const now = new Date(new Date(from).getTime() + minute * 60_000);
          const until = quietUntil('sms', quiet, timezone, now);
          if (!until) continue;
          held += 1;
          expect(until.getTime()).toBeGreaterThan(now.getTime());
          expect(quietUntil('sms', quiet, timezone, until)).toBeNull();
          expect(quietUntil('sms', quiet, timezone, new Date(until.getTime() - 60_000))).toEqual(until);
        }
      }
    }
    expect(held).toBeGreaterThan(500);
  });

  it('follows the user\'s own time zone and window, wrapping midnight or not', () => {
    expect(at('sms', '2026-06-10T23:00:00Z', DEFAULT_QUIET_HOURS, 'America/New_York')).toBeNull(); // 19:00 there
    expect(at('sms', '2026-06-11T02:00:00Z', DEFAULT_QUIET_HOURS, 'America/New_York')).toBe('2026-06-11T12:00:00.000Z');
    const afternoon = { start: '13:00', end: '15:30', email: false };
    expect(at('sms', '2026-06-10T12:59:59+02:00', afternoon)).toBeNull();
    expect(at('sms', '2026-06-10T13:00:00+02:00', afternoon)).toBe('2026-06-10T13:30:00.000Z');
    expect(at('sms', '2026-06-10T14:00:00+02:00', afternoon)).toBe('2026-06-10T13:30:00.000Z');
    expect(at('sms', '2026-06-10T15:29:59+02:00', afternoon)).toBe('2026-06-10T13:30:00.000Z');
    expect(at('sms', '2026-06-10T15:30:00+02:00', afternoon)).toBeNull();
  });

  it('holds nothing without quiet hours, or with an empty window', () => {
    expect(quietUntil('sms', null, 'Europe/Paris', paris('2026-06-10T23:00:00+02:00'))).toBeNull();
    expect(at('sms', '2026-06-10T23:00:00+02:00', { start: '22:00', end: '22:00', email: false })).toBeNull();
  });
});
