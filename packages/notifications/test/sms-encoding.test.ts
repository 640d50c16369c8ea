import { Notification, Ticket, type Channel } from '@notofine/db';
import { insertDevice, insertReminder, insertTicket, insertUser } from '@test/factories';
import { settleTicketNotifications, smsSegments } from '../src';
import { startService, type ServiceHarness } from './service-harness';

// Every SMS the service writes goes through one encoding-aware step: brought to the GSM 7-bit
// alphabet where it can be (160 characters a segment instead of UCS-2's 70), the service's own
// texts further than a caller's.

let harness: ServiceHarness;
beforeAll(async () => {
  harness = await startService();
});
afterAll(() => harness.stop());
beforeEach(async () => {
  await harness.env.db.query('DELETE FROM users');
});

const notificationsOf = async (where: { reminderId: number }): Promise<Record<Channel, Notification>> =>
  Object.fromEntries((await harness.env.db.manager.find(Notification, { where })).map((n) => [n.channel, n])) as Record<Channel, Notification>;

async function reachableUser() {
  const user = await insertUser(harness.env.db);
  await insertDevice(harness.env.db, user.id);
  return user;
}

describe('reminders', () => {
  it('write the summary of unpaid tickets as a one-segment GSM-7 SMS ("aout"), keeping "août" on the other channels', async () => {
    const user = await reachableUser();
    await insertTicket(harness.env.db, user.id, { reference: 'ABC123', amountCents: 13500, dueDate: '2027-08-15' });
    const reminder = await insertReminder(harness.env.db, user.id, ['email', 'sms', 'push']);

    await harness.service.processReminders({ now: new Date('2027-07-01T10:00:00Z') });

    const { sms, email, push } = await notificationsOf({ reminderId: reminder.id });
    expect(sms!.message).toBe('Rappel Notofine : vous avez 1 contravention impayée pour un total de 135,00 €. Prochaine échéance : contravention ABC123, à régler avant le 15 aout 2027.');
    expect(smsSegments(sms!.message)).toEqual({ encoding: 'GSM-7', units: 154, segments: 1 });
    expect(email!.message).toContain('15 août 2027');
    expect(push!.message).toContain('15 août 2027');
  });

  it('write a reminder\'s own message with its typography brought to the alphabet, its letters as written', async () => {
    const user = await reachableUser();
    const typographic = await insertReminder(harness.env.db, user.id, ['sms', 'email'], { message: 'N’oubliez pas « l’amende » – merci…' });
    const accented = await insertReminder(harness.env.db, user.id, ['sms'], { message: 'Êtes-vous sûr ?' });

    await harness.service.processReminders();

    const own = await notificationsOf({ reminderId: typographic.id });
    expect(own.sms!.message).toBe('N\'oubliez pas " l\'amende " - merci...');
    expect(own.email!.message).toBe('N’oubliez pas « l’amende » – merci…');
    expect((await notificationsOf({ reminderId: accented.id })).sms!.message).toBe('Êtes-vous sûr ?');
  });

  it('write again a pending SMS summary, once a ticket is paid, through the same step', async () => {
    const user = await reachableUser();
    const july = await insertTicket(harness.env.db, user.id, { reference: 'JUL', dueDate: '2027-07-20' });
    await insertTicket(harness.env.db, user.id, { reference: 'AUG', dueDate: '2027-08-15' });
    const reminder = await insertReminder(harness.env.db, user.id, ['sms']);
    await harness.service.processReminders({ now: new Date('2027-07-01T10:00:00Z') });

    await harness.env.db.transaction(async (manager) => {
      await manager.update(Ticket, { id: july.id }, { status: 'paid' });
      await settleTicketNotifications(manager, { ...july, status: 'paid' }, new Date('2027-07-01T11:00:00Z'));
    });

    const { sms } = await notificationsOf({ reminderId: reminder.id });
    expect(sms!.message).toContain('contravention AUG, à régler avant le 15 aout 2027.');
  });
});

describe('sends and ticket notices', () => {
  it('write a caller\'s SMS with its typography brought to the alphabet, and its fallback SMS too', async () => {
    const user = await reachableUser();
    const message = 'L’amende de 135\u00a0€ – à régler';

    const sms = await harness.service.sendNotification({ userId: user.id, channel: 'sms', message });
    const email = await harness.service.sendNotification({ userId: user.id, channel: 'email', message, fallback: ['sms', 'push'] });
    const accented = await harness.service.sendNotification({ userId: user.id, channel: 'sms', message: 'Payée en août' });

    expect(sms.message).toBe('L\'amende de 135 € - à régler');
    expect(email.message).toBe(message);
    // What its stand-in on SMS will say; the push one says the message as it is.
    expect(email.variants).toEqual({ sms: { message: 'L\'amende de 135 € - à régler', subject: null, html: null } });
    expect(accented.message).toBe('Payée en août');
  });

  it('write a ticket notice\'s SMS with its typography brought to the alphabet', async () => {
    const user = await reachableUser();
    const ticket = await insertTicket(harness.env.db, user.id);

    const result = await harness.service.sendTicketNotification({ ticketId: ticket.id, message: 'Votre amende « AB-123 » est due…' });

    const sms = result.notifications.find((n) => n.channel === 'sms')!;
    const email = result.notifications.find((n) => n.channel === 'email')!;
    expect(sms.message).toBe('Votre amende " AB-123 " est due...');
    expect(email.message).toBe('Votre amende « AB-123 » est due…');
  });
});
