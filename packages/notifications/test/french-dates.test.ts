import { renderTemplate, renderUnpaidSummary } from '../src';
import { formatDate } from '../src/format';

// French writes the first of the month "1er": "1er octobre 2027", wherever the service writes a
// date in French (templates, reminder summaries, emails).

describe('formatDate', () => {
  it.each([
    ['2027-10-01', 'fr', '1er octobre 2027'],
    ['2027-10-01', 'fr-BE', '1er octobre 2027'],
    ['2027-01-01', 'fr-CA', '1er janvier 2027'],
    ['2027-10-02', 'fr', '2 octobre 2027'],
    ['2027-10-11', 'fr', '11 octobre 2027'],
    ['2027-10-21', 'fr', '21 octobre 2027'],
    ['2027-10-01', 'en', 'October 1, 2027'],
    ['2027-10-01', 'en-GB', '1 October 2027'],
  ])('writes %s in %s as "%s"', (date, locale, written) => {
    expect(formatDate(date, locale)).toBe(written);
  });
});

it('writes "1er" in the French reminder summary', () => {
  const summary = renderUnpaidSummary({ count: 1, totalCents: 13500, nextDueDate: '2027-10-01', nextDueReference: 'ABC123' }, { locale: 'fr', timezone: 'Europe/Paris' }, new Date('2027-09-01T10:00:00Z'));

  expect(summary?.text).toContain('à régler avant le 1er octobre 2027.');
});

it('writes "1er" in every channel of a French template, the email\'s subject and HTML included', () => {
  const data = { reference: 'AB-123', amount_cents: 13500, due_date: '2027-10-01' };
  const user = { locale: 'fr', timezone: 'Europe/Paris' };
  const now = new Date('2027-09-01T10:00:00Z');

  const email = renderTemplate('ticket_due', 'email', data, user, now);

  expect(renderTemplate('ticket_due', 'sms', data, user, now).text).toContain('avant le 1er octobre 2027');
  expect(renderTemplate('ticket_due', 'push', data, user, now).text).toContain('avant le 1er octobre 2027');
  expect([email.subject, email.text, email.html].map((part) => part.includes('1er octobre 2027'))).toEqual([true, true, true]);
});
