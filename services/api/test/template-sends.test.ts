import { Notification } from '@notofine/db';
import { insertDevice, insertUser } from '@test/factories';
import { startApi, type ApiHarness } from './api-harness';

let harness: ApiHarness;
beforeAll(async () => {
  harness = await startApi();
});
afterAll(async () => {
  await harness.stop();
});

const TICKET = { reference: 'AB-123', amount_cents: 13500, due_date: '2099-12-15' };
const TICKET_PAID = { reference: 'AB-123', amount_cents: 13500 };

describe('POST /notifications/send with a template', () => {
  it('renders the template in the user\'s language for the channel, with its subject', async () => {
    const marie = await insertUser(harness.env.db, { locale: 'fr' });
    const john = await insertUser(harness.env.db, { locale: 'en-GB' });

    const email = await harness.client.post('/notifications/send', { user_id: marie.id, channel: 'email', template: 'ticket_due', data: TICKET }).expect(202);
    const sms = await harness.client.post('/notifications/send', { user_id: john.id, channel: 'sms', template: 'ticket_due', data: TICKET }).expect(202);
    const ownSubject = await harness.client.post('/notifications/send', { user_id: marie.id, channel: 'email', template: 'ticket_due', data: TICKET, subject: 'Mon objet' }).expect(202);

    expect(email.body.subject).toBe('Contravention AB-123 à régler avant le 15 décembre 2099');
    expect(email.body.message).toContain('Votre contravention AB-123 d’un montant de 135,00 € est à régler avant le 15 décembre 2099.');
    expect(sms.body.message).toContain('€135.00');
    expect(sms.body.message).toContain('15 December 2099');
    expect(sms.body.subject).toBeNull();
    expect(ownSubject.body.subject).toBe('Mon objet');
    expect((await harness.env.db.manager.findOneByOrFail(Notification, { id: email.body.id })).message).toBe(email.body.message);
  });

  it('keeps on the row the template\'s kind, the email\'s HTML body, and what its fallback channels would send', async () => {
    const user = await insertUser(harness.env.db, { locale: 'fr' });
    await insertDevice(harness.env.db, user.id);

    const email = await harness.client.post('/notifications/send', { user_id: user.id, channel: 'email', template: 'ticket_paid', data: TICKET_PAID, fallback: ['sms', 'push'] }).expect(202);
    const sms = await harness.client.post('/notifications/send', { user_id: user.id, channel: 'sms', template: 'ticket_paid', data: TICKET_PAID }).expect(202);
    const raw = await harness.client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Texte libre' }).expect(202);
    const row = (id: number) => harness.env.db.manager.findOneByOrFail(Notification, { id });

    expect(email.body.template).toBe('ticket_paid');
    expect((await row(email.body.id)).html).toContain('<strong>AB-123</strong>');
    expect((await row(email.body.id)).variants).toEqual({
      sms: { message: expect.stringContaining('AB-123'), subject: null, html: null },
      push: { message: expect.stringContaining('AB-123'), subject: expect.any(String), html: null },
    });
    expect(await row(sms.body.id)).toMatchObject({ template: 'ticket_paid', html: null, variants: null });
    expect(await row(raw.body.id)).toMatchObject({ template: null, html: null, variants: null });
  });

  it('says which variable is missing or malformed, and writes nothing', async () => {
    const user = await insertUser(harness.env.db);

    const missing = await harness.client.post('/notifications/send', { user_id: user.id, channel: 'sms', template: 'ticket_due', data: { reference: 'AB-123', amount_cents: 13500 } }).expect(400);
    const malformed = await harness.client.post('/notifications/send', { user_id: user.id, channel: 'sms', template: 'ticket_due', data: { ...TICKET, due_date: '15/12/2099' } }).expect(400);
    const unknown = await harness.client.post('/notifications/send', { user_id: user.id, channel: 'sms', template: 'parking_ticket', data: TICKET }).expect(400);

    expect(missing.body.errors).toEqual([{ field: 'data.due_date', message: expect.stringMatching(/required/) }]);
    expect(malformed.body.errors).toEqual([{ field: 'data.due_date', message: expect.any(String) }]);
    expect(unknown.body.errors).toEqual([{ field: 'template', message: expect.stringMatching(/^must be one of ticket_due, /) }]);
    expect(await harness.env.db.manager.countBy(Notification, { userId: user.id })).toBe(0);
  });

  it('takes a message or a template, not both, not neither, and data only with a template', async () => {
    const user = await insertUser(harness.env.db);
    const base = { user_id: user.id, channel: 'email' };

    const both = await harness.client.post('/notifications/send', { ...base, message: 'x', template: 'ticket_due', data: TICKET }).expect(400);
    const neither = await harness.client.post('/notifications/send', base).expect(400);
    const dataAlone = await harness.client.post('/notifications/send', { ...base, message: 'x', data: TICKET }).expect(400);

    expect(both.body.errors).toEqual([{ field: 'template', message: 'must not come with a message: send one or the other' }]);
    expect(neither.body.errors).toEqual([{ field: 'message', message: 'is required, or a template with its data' }]);
    expect(dataAlone.body.errors).toEqual([{ field: 'data', message: 'goes with a template: name one' }]);
  });
});
