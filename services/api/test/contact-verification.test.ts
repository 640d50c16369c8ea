import { ContactVerification, Notification, Reminder, User } from '@notofine/db';
import { VERIFICATION } from '@notofine/notifications';
import { apiClient, type ApiClient } from '@test/api-client';
import { insertDevice, insertReminder, insertUser, insertVerification } from '@test/factories';
import { startApi, type ApiHarness } from './api-harness';
import { openDeliveryQueues, type DeliveryQueuesProbe } from './delivery-queues';
import { expectProblem, expectSnakeCaseKeys } from './expectations';

// Proof of ownership of contact points, at the API: what a user token may change, what waits for
// its code, how codes are checked and limited, and where text written with a user token may go.
// The codes themselves are drawn by the worker (test/e2e/contact-verification.test.ts); here a
// verification whose code went out is arranged with insertVerification.

let harness: ApiHarness;
let queues: DeliveryQueuesProbe;
beforeAll(async () => {
  harness = await startApi({ USER_RATE_LIMIT: '100000/1m' });
  queues = openDeliveryQueues(harness.env);
});
afterAll(async () => {
  await queues.close();
  await harness.stop();
});

let sequence = 0;
/** An address no other test of the file uses (the per-address limits count across users). */
const freshEmail = () => `fresh.${++sequence}.${Date.now()}@example.com`;
const freshPhone = () => `+3361${String(Date.now() % 1e4).padStart(4, '0')}${String(++sequence % 1e3).padStart(3, '0')}`;

/** A user whose email and phone a backend set (not proven), with a push device, and a token of theirs. */
async function userWithToken(fields: Partial<User> = {}): Promise<{ user: User; asUser: ApiClient }> {
  const user = await insertUser(harness.env.db, { email: freshEmail(), phone: freshPhone(), ...fields });
  await insertDevice(harness.env.db, user.id);
  const { body } = await harness.client.post(`/users/${user.id}/tokens`).expect(201);
  return { user, asUser: apiClient(harness.api.app, body.token) };
}

const userRow = (id: number) => harness.env.db.manager.findOneByOrFail(User, { id });
const verificationsOf = (userId: number) => harness.env.db.manager.find(ContactVerification, { where: { userId }, order: { contact: 'ASC' } });
const codeNotificationsOf = (userId: number) => harness.env.db.manager.find(Notification, { where: { userId, template: 'contact_verification' }, order: { id: 'ASC' } });

describe('PATCH /users/{id} through a user token', () => {
  it('keeps the current email and phone in use: the new ones wait for their code, shown masked, each with one code on its way to it only', async () => {
    const { user, asUser } = await userWithToken({ fullName: 'Cliquez sur http://evil.example/pay' });

    const response = await asUser.patch(`/users/${user.id}`, { email: 'someone.else@example.org', phone: '06 11 22 33 44', locale: 'en' }).expect(200);

    expect(response.body).toMatchObject({
      email: user.email,
      phone: user.phone,
      email_verified: false,
      phone_verified: false,
      locale: 'en',
      pending_verification: {
        email: { contact: 'email', address: 's***@example.org', code_sent_at: null, code_expires_at: null, attempts_left: VERIFICATION.maxFailedAttempts },
        phone: { contact: 'phone', address: '+33******44', code_sent_at: null, code_expires_at: null, attempts_left: VERIFICATION.maxFailedAttempts },
      },
    });
    expectSnakeCaseKeys(response.body);
    expect(JSON.stringify(response.body)).not.toMatch(/someone\.else|611223344/);
    expect(await userRow(user.id)).toMatchObject({ email: user.email, phone: user.phone, emailVerifiedAt: null });
    const waiting = await verificationsOf(user.id);
    expect(waiting.map((v) => [v.contact, v.address, v.codeHash])).toEqual([
      ['email', 'someone.else@example.org', null],
      ['phone', '+33611223344', null],
    ]);

    const codes = await codeNotificationsOf(user.id);
    expect(codes.map((n) => [n.channel, n.contactVerificationId, n.urgent, n.critical, n.status])).toEqual([
      ['email', waiting[0]!.id, true, true, 'pending'],
      ['sms', waiting[1]!.id, true, true, 'pending'],
    ]);
    // The row keeps the text with the code masked (the worker draws it), in the user's language,
    // and nothing the user wrote: the message goes to an address nobody proved.
    expect(codes[1]!.message).toBe('Notofine: your verification code is ******. It expires in 15 minutes. Do not share it.');
    expect(codes[0]!.subject).toBe('Your Notofine verification code');
    for (const notification of codes) expect(`${notification.message} ${notification.subject} ${notification.html}`).not.toMatch(/evil|Cliquez/);
    for (const notification of codes) expect(await queues.job(notification.channel, notification.id)).toBeDefined();
  });

  it('removes an address at once with null, and gives up the one waiting by setting the current one again', async () => {
    const { user, asUser } = await userWithToken();
    await asUser.patch(`/users/${user.id}`, { email: freshEmail(), phone: freshPhone() }).expect(200);

    const response = await asUser.patch(`/users/${user.id}`, { email: null, phone: user.phone }).expect(200);

    expect(response.body).toMatchObject({ email: null, phone: user.phone, pending_verification: { email: null, phone: null } });
    expect(await verificationsOf(user.id)).toEqual([]);
  });

  it('keeps the address waiting, and its attempts, when the same one is sent again: no new code', async () => {
    const { user, asUser } = await userWithToken();
    const waiting = await insertVerification(harness.env.db, user.id, 'email', { failedAttempts: 2 });

    const response = await asUser.patch(`/users/${user.id}`, { email: waiting.address }).expect(200);

    expect(response.body.pending_verification.email).toMatchObject({ attempts_left: VERIFICATION.maxFailedAttempts - 2 });
    expect(await codeNotificationsOf(user.id)).toEqual([]);
  });

  it('refuses a malformed phone with 400 before any code is counted or sent', async () => {
    const { user, asUser } = await userWithToken();

    const response = await asUser.patch(`/users/${user.id}`, { phone: '12', email: freshEmail() });

    expectProblem(response, 400, 'validation-error');
    expect(await verificationsOf(user.id)).toEqual([]);
  });
});

describe('PATCH /users/{id} with a backend key', () => {
  it('sets the address at once, as before, not proven, and drops the change a user token left waiting', async () => {
    const { user } = await userWithToken();
    await harness.env.db.manager.update(User, { id: user.id }, { emailVerifiedAt: new Date() });
    await insertVerification(harness.env.db, user.id, 'email');
    const email = freshEmail();

    const response = await harness.client.patch(`/users/${user.id}`, { email }).expect(200);

    expect(response.body).toMatchObject({ email, email_verified: false, pending_verification: { email: null, phone: null } });
    expect(await verificationsOf(user.id)).toEqual([]);
    expect(await codeNotificationsOf(user.id)).toEqual([]);
  });

  it('keeps a proven address proven when it sets the same one again', async () => {
    const { user } = await userWithToken();
    await harness.env.db.manager.update(User, { id: user.id }, { phoneVerifiedAt: new Date() });

    const response = await harness.client.patch(`/users/${user.id}`, { phone: user.phone }).expect(200);

    expect(response.body).toMatchObject({ phone: user.phone, phone_verified: true });
  });
});

describe('POST /users/{id}/verifications/confirm', () => {
  it('with the right code in time, makes the address waiting the user\'s, proven, and the verification goes', async () => {
    const { user, asUser } = await userWithToken();
    const waiting = await insertVerification(harness.env.db, user.id, 'phone', { address: '+33677889900' });

    const response = await asUser.post(`/users/${user.id}/verifications/confirm`, { contact: 'phone', code: waiting.code }).expect(200);

    expect(response.body).toMatchObject({ id: user.id, phone: '+33677889900', phone_verified: true, email: user.email, email_verified: false, pending_verification: { phone: null } });
    expect((await userRow(user.id)).phoneVerifiedAt).toBeInstanceOf(Date);
    expect(await verificationsOf(user.id)).toEqual([]);
  });

  it('counts a wrong code and says how many attempts are left; the last one drops the address waiting', async () => {
    const { user, asUser } = await userWithToken();
    const waiting = await insertVerification(harness.env.db, user.id, 'email');
    const wrong = waiting.code === '000000' ? '000001' : '000000';

    const answers = [];
    for (let i = 0; i < VERIFICATION.maxFailedAttempts; i++) answers.push(await asUser.post(`/users/${user.id}/verifications/confirm`, { contact: 'email', code: wrong }));
    const afterwards = await asUser.post(`/users/${user.id}/verifications/confirm`, { contact: 'email', code: waiting.code! });

    expectProblem(answers[0]!, 422, 'verification-code-wrong');
    expect(answers[0]!.body.detail).toMatch(/4 attempts left/);
    expect(answers[0]!.body.errors).toEqual([{ field: 'code', message: 'is wrong (4 attempts left)' }]);
    expect(answers[3]!.body.detail).toMatch(/1 attempt left/);
    expectProblem(answers[4]!, 422, 'verification-attempts-exhausted');
    expect(answers[4]!.body.detail).toMatch(/PATCH \/users\/\d+/);
    // Even the right code does nothing now: nothing waits any more.
    expectProblem(afterwards, 409, 'no-pending-verification');
    expect(await userRow(user.id)).toMatchObject({ email: user.email, emailVerifiedAt: null });
  });

  it('refuses an expired code without counting it, and says how to get a new one', async () => {
    const { user, asUser } = await userWithToken();
    const waiting = await insertVerification(harness.env.db, user.id, 'email', { expiresAt: new Date(Date.now() - 1000) });

    const response = await asUser.post(`/users/${user.id}/verifications/confirm`, { contact: 'email', code: waiting.code });

    expectProblem(response, 422, 'verification-code-expired');
    expect(response.body.detail).toContain(`POST /users/${user.id}/verifications`);
    expect((await verificationsOf(user.id))[0]!.failedAttempts).toBe(0);
  });

  it('answers 409 when nothing waits, or when its code has not gone out yet', async () => {
    const { user, asUser } = await userWithToken();

    const nothing = await asUser.post(`/users/${user.id}/verifications/confirm`, { contact: 'phone', code: '123456' });
    await insertVerification(harness.env.db, user.id, 'phone', { code: null });
    const notSent = await asUser.post(`/users/${user.id}/verifications/confirm`, { contact: 'phone', code: '123456' });

    expectProblem(nothing, 409, 'no-pending-verification');
    expectProblem(notSent, 409, 'verification-code-not-sent');
    expect(notSent.headers['retry-after']).toBe('5');
  });

  it.each([
    ['a code of five digits', { contact: 'email', code: '12345' }, 'code'],
    ['a code with letters', { contact: 'email', code: '12345a' }, 'code'],
    ['a code as a number', { contact: 'email', code: 123456 }, 'code'],
    ['an unknown contact', { contact: 'push', code: '123456' }, 'contact'],
  ])('refuses %s with 400 naming the field', async (_case, body, field) => {
    const { user, asUser } = await userWithToken();

    const response = await asUser.post(`/users/${user.id}/verifications/confirm`, body);

    expectProblem(response, 400, 'validation-error');
    expect(response.body.errors).toEqual([expect.objectContaining({ field })]);
  });

  it('takes the code from a backend key too', async () => {
    const { user } = await userWithToken();
    const waiting = await insertVerification(harness.env.db, user.id, 'email');

    const response = await harness.client.post(`/users/${user.id}/verifications/confirm`, { contact: 'email', code: waiting.code }).expect(200);

    expect(response.body).toMatchObject({ email: waiting.address, email_verified: true });
  });
});

describe('POST /users/{id}/verifications', () => {
  it('sends a code to the current address when the user has not proven it', async () => {
    const { user, asUser } = await userWithToken();

    const response = await asUser.post(`/users/${user.id}/verifications`, { contact: 'email' }).expect(202);

    expect(response.body).toEqual({ contact: 'email', address: expect.stringMatching(/^f\*\*\*@example\.com$/), code_sent_at: null, code_expires_at: null, attempts_left: 5 });
    expect((await verificationsOf(user.id)).map((v) => v.address)).toEqual([user.email]);
    expect(await codeNotificationsOf(user.id)).toHaveLength(1);
  });

  it('sends a new code to the address waiting, whose wrong attempts stay counted', async () => {
    const { user, asUser } = await userWithToken();
    const waiting = await insertVerification(harness.env.db, user.id, 'phone', { address: freshPhone(), failedAttempts: 3 });

    const response = await asUser.post(`/users/${user.id}/verifications`, { contact: 'phone' }).expect(202);

    expect(response.body).toMatchObject({ contact: 'phone', attempts_left: 2 });
    expect(await verificationsOf(user.id)).toEqual([expect.objectContaining({ id: waiting.id, address: waiting.address })]);
    expect((await codeNotificationsOf(user.id)).map((n) => [n.channel, n.contactVerificationId])).toEqual([['sms', waiting.id]]);
  });

  it('answers 409 when there is nothing to prove: no address, or one proven already', async () => {
    const { user, asUser } = await userWithToken({ phone: null, emailVerifiedAt: new Date() });

    const noPhone = await asUser.post(`/users/${user.id}/verifications`, { contact: 'phone' });
    const proven = await asUser.post(`/users/${user.id}/verifications`, { contact: 'email' });

    expectProblem(noPhone, 409, 'nothing-to-verify');
    expect(noPhone.body.detail).toContain(`PATCH /users/${user.id}`);
    expectProblem(proven, 409, 'nothing-to-verify');
    expect(await codeNotificationsOf(user.id)).toEqual([]);
  });
});

describe('limits of verification codes', () => {
  it('sends one code a minute to an address: the next asks to wait, with Retry-After', async () => {
    const { user, asUser } = await userWithToken();

    await asUser.post(`/users/${user.id}/verifications`, { contact: 'email' }).expect(202);
    const again = await asUser.post(`/users/${user.id}/verifications`, { contact: 'email' });

    expectProblem(again, 429, 'verification-rate-limited');
    expect(Number(again.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(again.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(await codeNotificationsOf(user.id)).toHaveLength(1);
  });

  it(`sends a user ${VERIFICATION.perUser.max} codes an hour at most, whatever the addresses, and refuses the change past it without changing anything`, async () => {
    const { user, asUser } = await userWithToken();

    const statuses = [];
    for (let i = 0; i <= VERIFICATION.perUser.max; i++) statuses.push((await asUser.patch(`/users/${user.id}`, { phone: freshPhone(), full_name: `Essai ${i}` })).status);

    expect(statuses).toEqual([...Array(VERIFICATION.perUser.max).fill(200), 429]);
    expect((await userRow(user.id)).fullName).toBe(`Essai ${VERIFICATION.perUser.max - 1}`);
    expect(await codeNotificationsOf(user.id)).toHaveLength(VERIFICATION.perUser.max);
  });

  it(`sends an address ${VERIFICATION.perAddress.max} codes a day at most, whichever users ask (SMS pumping)`, async () => {
    const target = freshPhone();
    const users = await Promise.all(Array.from({ length: VERIFICATION.perAddress.max + 1 }, () => userWithToken()));

    const answers = [];
    for (const { user, asUser } of users) answers.push(await asUser.patch(`/users/${user.id}`, { phone: target }));

    expect(answers.map((answer) => answer.status)).toEqual([...Array(VERIFICATION.perAddress.max).fill(200), 429]);
    expectProblem(answers.at(-1)!, 429, 'verification-rate-limited');
    expect(answers.at(-1)!.body.detail).toMatch(/last 24 hours/);
    expect(answers.at(-1)!.body.detail).not.toContain(target);
  });
});

describe('reminders with a text written through a user token', () => {
  it('are refused with 422 on a channel whose address the user has not proven, and taken where it is proven (push counts as proven)', async () => {
    const { user, asUser } = await userWithToken();
    const text = { message: 'Payez ici : http://evil.example/pay', subject: 'Urgent' };

    const onEmail = await asUser.post(`/users/${user.id}/reminders`, { frequency_days: 7, channels: ['push', 'email', 'sms'], ...text });
    const onPush = await asUser.post(`/users/${user.id}/reminders`, { frequency_days: 7, channels: ['push'], ...text });
    const summary = await asUser.post(`/users/${user.id}/reminders`, { frequency_days: 7, channels: ['email', 'sms'] });

    expectProblem(onEmail, 422, 'address-not-proven');
    expect(onEmail.body.errors).toEqual([
      { field: 'channels[1]', message: 'email: the user has not proven their email address' },
      { field: 'channels[2]', message: 'sms: the user has not proven their phone number' },
    ]);
    expect(onEmail.body.detail).toContain(`POST /users/${user.id}/verifications`);
    expect(onPush.status).toBe(201);
    expect(summary.status).toBe(201);
    expect(await harness.env.db.manager.findBy(Reminder, { userId: user.id })).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: onPush.body.id, textFromUserToken: true }), expect.objectContaining({ id: summary.body.id, textFromUserToken: false })]),
    );

    await harness.env.db.manager.update(User, { id: user.id }, { emailVerifiedAt: new Date() });
    await asUser.post(`/users/${user.id}/reminders`, { frequency_days: 7, channels: ['email'], ...text }).expect(201);
  });

  it('are refused when a user token writes the text of a reminder, or moves its text to a channel, whose address is not proven', async () => {
    const { user, asUser } = await userWithToken({ emailVerifiedAt: new Date() });
    const backends = await insertReminder(harness.env.db, user.id, ['sms'], { message: 'Rappel de votre banque' });
    const { body: own } = await asUser.post(`/users/${user.id}/reminders`, { frequency_days: 7, channels: ['email'], message: 'Mon rappel' }).expect(201);

    const rewritten = await asUser.patch(`/reminders/${backends.id}`, { message: 'Payez ici : http://evil.example/pay' });
    const moved = await asUser.patch(`/reminders/${own.id}`, { channels: ['email', 'sms'] });
    const frequency = await asUser.patch(`/reminders/${backends.id}`, { frequency_days: 3 });

    expectProblem(rewritten, 422, 'address-not-proven');
    expectProblem(moved, 422, 'address-not-proven');
    expect(frequency.status).toBe(200);
    expect(await harness.env.db.manager.findOneByOrFail(Reminder, { id: backends.id })).toMatchObject({ message: 'Rappel de votre banque', textFromUserToken: false });
  });

  it('are the backend\'s again once a backend key rewrites all their text in one request, and nobody\'s without text', async () => {
    const { user, asUser } = await userWithToken({ emailVerifiedAt: new Date() });
    const { body: reminder } = await asUser.post(`/users/${user.id}/reminders`, { frequency_days: 7, channels: ['email'], message: 'Mon rappel', subject: 'Le mien' }).expect(201);
    const authorship = async () => (await harness.env.db.manager.findOneByOrFail(Reminder, { id: reminder.id })).textFromUserToken;

    await harness.client.patch(`/reminders/${reminder.id}`, { message: 'Rappel du service' }).expect(200);
    const subjectStillTheUsers = await authorship();
    await harness.client.patch(`/reminders/${reminder.id}`, { message: 'Rappel du service', subject: 'Rappel' }).expect(200);
    const rewritten = await authorship();
    await asUser.patch(`/reminders/${reminder.id}`, { subject: 'Le mien' }).expect(200);
    const theUsersAgain = await authorship();
    await asUser.patch(`/reminders/${reminder.id}`, { message: null, subject: null }).expect(200);
    const noText = await authorship();

    expect([subjectStillTheUsers, rewritten, theUsersAgain, noText]).toEqual([true, false, true, false]);
  });

  it('keep a backend key\'s reminders as they were: its text goes to any address', async () => {
    const { user } = await userWithToken();

    const response = await harness.client.post(`/users/${user.id}/reminders`, { frequency_days: 7, channels: ['email', 'sms'], message: 'Rappel du service' });

    expect(response.status).toBe(201);
  });

  it('go out, at each run, only where the user proved the address: a backend that changed it since leaves that channel out', async () => {
    const { user, asUser } = await userWithToken({ emailVerifiedAt: new Date(), phoneVerifiedAt: new Date() });
    const { body: reminder } = await asUser.post(`/users/${user.id}/reminders`, { frequency_days: 7, channels: ['email', 'sms', 'push'], message: 'Mon rappel' }).expect(201);
    await harness.client.patch(`/users/${user.id}`, { email: freshEmail() }).expect(200);

    await harness.client.post('/reminders/process').expect(200);

    const sent = await harness.env.db.manager.find(Notification, { where: { reminderId: reminder.id }, order: { channel: 'ASC' } });
    expect(sent.map((n) => [n.channel, n.textFromUserToken])).toEqual([
      ['push', true],
      ['sms', true],
    ]);
  });
});
