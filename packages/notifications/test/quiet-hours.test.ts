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

  it('follows the user\'s own time zone and window, wrapping midnight or not', () => {
    expect(at('sms', '2026-06-10T23:00:00Z', DEFAULT_QUIET_HOURS, 'America/New_York')).toBeNull(); // 19:00 there
    expect(at('sms', '2026-06-11T02:00:00Z', DEFAULT_QUIET_HOURS, 'America/New_York')).toBe('2026-06-11T12:00:00.000Z');
    const afternoon = { start: '13:00', end: '15:30', email: false };
    expect(at('sms', '2026-06-10T14:00:00+02:00', afternoon)).toBe('2026-06-10T13:30:00.000Z');
    expect(at('sms', '2026-06-10T15:30:00+02:00', afternoon)).toBeNull();
  });

  it('holds nothing without quiet hours, or with an empty window', () => {
    expect(quietUntil('sms', null, 'Europe/Paris', paris('2026-06-10T23:00:00+02:00'))).toBeNull();
    expect(at('sms', '2026-06-10T23:00:00+02:00', { start: '22:00', end: '22:00', email: false })).toBeNull();
  });
});
