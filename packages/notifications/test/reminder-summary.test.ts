import { renderUnpaidSummary } from '../src';

const now = new Date('2026-11-23T10:00:00Z');
const paris = { locale: 'fr', timezone: 'Europe/Paris' };

describe('renderUnpaidSummary', () => {
  it('counts the tickets, totals them in euros and names the next one due, in French by default', () => {
    const summary = renderUnpaidSummary({ count: 3, totalCents: 40550, nextDueDate: '2026-12-01', nextDueReference: 'ABC123' }, paris, now);

    expect(summary).toEqual({
      subject: 'Rappel : contraventions impayées',
      text: 'Rappel Notofine : vous avez 3 contraventions impayées pour un total de 405,50 €. Prochaine échéance : contravention ABC123, à régler avant le 1er décembre 2026.',
    });
  });

  it('says when the earliest ticket is already overdue', () => {
    const summary = renderUnpaidSummary({ count: 1, totalCents: 13500, nextDueDate: '2026-11-22', nextDueReference: 'OLD42' }, paris, now);

    expect(summary?.text).toBe('Rappel Notofine : vous avez 1 contravention impayée pour un total de 135,00 €. La contravention OLD42 était à régler avant le 22 novembre 2026.');
  });

  it('counts "today" in the user’s time zone: due today is not overdue yet', () => {
    // 23:30 UTC on the 22nd is already the 23rd in Paris, where the ticket is due today.
    const lateEvening = new Date('2026-11-22T23:30:00Z');

    const summary = renderUnpaidSummary({ count: 1, totalCents: 100, nextDueDate: '2026-11-23', nextDueReference: 'T1' }, paris, lateEvening);

    expect(summary?.text).toContain('Prochaine échéance');
  });

  it('writes English for an English locale, with the amount in English notation', () => {
    const summary = renderUnpaidSummary({ count: 2, totalCents: 22500, nextDueDate: '2026-12-15', nextDueReference: 'ABC123' }, { locale: 'en', timezone: 'Europe/London' }, now);

    expect(summary).toEqual({
      subject: 'Reminder: unpaid traffic tickets',
      text: 'Notofine reminder: you have 2 unpaid traffic tickets totalling €225.00. Next due: ticket ABC123, by December 15, 2026.',
    });
  });

  it('uses only characters of the GSM 7-bit alphabet for the amount (no no-break spaces)', () => {
    const summary = renderUnpaidSummary({ count: 1, totalCents: 123456, nextDueDate: '2026-12-15', nextDueReference: 'A1' }, paris, now);

    expect(summary?.text).toContain('1 234,56 €');
    expect(summary?.text).not.toMatch(/[\u00a0\u202f]/);
  });

  it('is null when nothing is unpaid', () => {
    expect(renderUnpaidSummary({ count: 0, totalCents: 0, nextDueDate: null, nextDueReference: null }, paris, now)).toBeNull();
  });
});
