import { ContactVerification, Notification, User } from '@notofine/db';
import type { EmailMessage, SmsMessage } from '@notofine/providers';
import { apiClient, type ApiClient } from '@test/api-client';
import { insertDevice, insertUser } from '@test/factories';
import { databaseText } from '@test/inspect';
import { ScriptedProviders } from '@test/scripted-providers';
import { createTestEnvironment, type TestEnvironment } from '@test/test-environment';
import { waitFor } from '@test/wait-for';
import { start as startApi, type ApiService } from '../../services/api/src/api-service';
import { start as startWorker, type WorkerService } from '../../services/worker/src/worker-service';

// Where text written with a user token can go, end to end: the API and a worker in-process, the
// worker sending through scripted providers that record every message and its recipient. A user
// token used to be able to change the user's email or phone to anyone's and have its reminder text
// delivered there at the next run.

const PUBLIC_BASE_URL = 'https://notify.example.test';
const PHISHING = 'Votre amende est majorée : payez ici http://evil.example/pay';
let env: TestEnvironment;
let api: ApiService;
let client: ApiClient;
let providers: ScriptedProviders;
let worker: WorkerService | undefined;

beforeAll(async () => {
  env = await createTestEnvironment({ PUBLIC_BASE_URL, USER_RATE_LIMIT: '100000/1m' });
  api = await startApi({ config: env.config, logger: env.logger, listen: false });
  client = apiClient(api.app);
});
afterAll(async () => {
  await worker?.stop();
  await api.stop();
  await env.cleanup();
});

async function startTheWorker(): Promise<void> {
  await stopTheWorker();
  providers = new ScriptedProviders();
  worker = await startWorker({ config: env.config, logger: env.logger, providers, scheduleReminders: false });
}
async function stopTheWorker(): Promise<void> {
  await worker?.stop();
  worker = undefined;
}

let sequence = 0;
/** A user whose email and phone they proved, with a push device, and a token of theirs. */
async function provenUserWithToken(): Promise<{ user: User; asUser: ApiClient }> {
  const n = ++sequence;
  const user = await insertUser(env.db, { email: `owner.${n}@example.com`, phone: `+3361234500${n}`, emailVerifiedAt: new Date(), phoneVerifiedAt: new Date() });
  await insertDevice(env.db, user.id);
  const { body } = await client.post(`/users/${user.id}/tokens`).expect(201);
  return { user, asUser: apiClient(api.app, body.token) };
}

/** Every notification of the user once none is pending any more. */
async function finalNotificationsOf(userId: number): Promise<Notification[]> {
  return waitFor(`the notifications of user ${userId} to be final`, async () => {
    const rows = await env.db.manager.find(Notification, { where: { userId }, order: { id: 'ASC' } });
    return rows.length > 0 && rows.every((row) => row.status !== 'pending') ? rows : null;
  });
}

const emailsTo = (address: string): EmailMessage[] => providers.email.calls.filter((call) => call.to === address);
const smsTo = (number: string): SmsMessage[] => providers.sms.calls.filter((call) => call.to === number);
const codeIn = (text: string): string => {
  const match = /\b(\d{6})\b/.exec(text);
  if (!match) throw new Error(`no code in ${JSON.stringify(text)}`);
  return match[1]!;
};

describe('a user token and the addresses its text reaches', () => {
  beforeAll(startTheWorker);

  it('cannot send a reminder text of its choosing to an address it sets: the text goes to the proven addresses, the new ones get their code only', async () => {
    const { user, asUser } = await provenUserWithToken();
    const victim = { email: 'victim@example.org', phone: '+33699001122' };

    await asUser.patch(`/users/${user.id}`, victim).expect(200);
    await asUser.post(`/users/${user.id}/reminders`, { frequency_days: 1, channels: ['email', 'sms'], message: PHISHING, subject: 'Urgent' }).expect(201);
    await client.post('/reminders/process').expect(200);
    const rows = await finalNotificationsOf(user.id);

    expect(rows.map((row) => [row.channel, row.template, row.status])).toEqual([
      ['email', 'contact_verification', 'sent'],
      ['sms', 'contact_verification', 'sent'],
      ['email', null, 'sent'],
      ['sms', null, 'sent'],
    ]);
    // The text went where the user proved they are.
    expect(emailsTo(user.email!).map((m) => m.text)).toEqual([expect.stringContaining(PHISHING)]);
    expect(smsTo(user.phone!).map((m) => m.text)).toEqual([PHISHING]);
    // The addresses the token chose got one message each: a code, and nothing the token wrote.
    const [codeEmail, ...otherEmails] = emailsTo(victim.email);
    const [codeSms, ...otherSms] = smsTo(victim.phone);
    expect([otherEmails, otherSms]).toEqual([[], []]);
    expect(codeSms!.text).toBe(`Notofine : votre code de vérification est ${codeIn(codeSms!.text)}. Il expire dans 15 minutes. Ne le donnez à personne.`);
    expect(codeEmail!.subject).toBe('Votre code de vérification Notofine');
    for (const text of [codeEmail!.text, codeEmail!.html, codeEmail!.subject, codeSms!.text]) expect(text).not.toMatch(/evil|majorée|Urgent/);
    // And their user is still the proven one's.
    expect(await env.db.manager.findOneByOrFail(User, { id: user.id })).toMatchObject({ email: user.email, phone: user.phone });
  });

  it('proves a new email with the code sent there: it becomes the user\'s, and the user\'s text goes there from then on', async () => {
    const { user, asUser } = await provenUserWithToken();
    const newEmail = `new.owner.${sequence}@example.net`;

    await asUser.patch(`/users/${user.id}`, { email: newEmail }).expect(200);
    const [codeEmail] = await waitFor('the code email', () => emailsTo(newEmail).length > 0 && emailsTo(newEmail));
    const code = codeIn(codeEmail!.text);
    const { body: waiting } = await asUser.get(`/users/${user.id}`).expect(200);

    // A code goes to an address nobody proved yet: no link acting on the user's account in it.
    expect(codeEmail).toMatchObject({ subject: 'Votre code de vérification Notofine', unsubscribeUrl: undefined });
    expect(codeEmail!.html).toContain(`<strong>${code}</strong>`);
    expect(codeEmail!.text).not.toContain(PUBLIC_BASE_URL);
    expect(waiting).toMatchObject({ email: user.email, email_verified: true, pending_verification: { email: { address: 'n***@example.net', attempts_left: 5 } } });
    expect(Date.parse(waiting.pending_verification.email.code_expires_at) - Date.parse(waiting.pending_verification.email.code_sent_at)).toBe(15 * 60_000);
    // The code is nowhere at rest: the row and the API show it masked, the verification keeps its hash.
    const rows = await finalNotificationsOf(user.id);
    expect(rows[0]!.message).toContain('******');
    expect(await databaseText(env)).not.toMatch(new RegExp(`\\b${code}\\b`));

    const proven = await asUser.post(`/users/${user.id}/verifications/confirm`, { contact: 'email', code }).expect(200);
    expect(proven.body).toMatchObject({ email: newEmail, email_verified: true, pending_verification: { email: null } });

    await asUser.post(`/users/${user.id}/reminders`, { frequency_days: 1, channels: ['email'], message: 'Mon rappel à moi' }).expect(201);
    await client.post('/reminders/process').expect(200);
    await finalNotificationsOf(user.id);
    const reminders = emailsTo(newEmail).filter((m) => m.text.includes('Mon rappel à moi'));
    expect(reminders).toHaveLength(1);
    expect(reminders[0]!.unsubscribeUrl).toMatch(new RegExp(`^${PUBLIC_BASE_URL}/unsubscribe/`));
  });

  it('proves a new phone number with a code by SMS, in the GSM alphabet and one segment, in the user\'s language; the current number gets nothing', async () => {
    const { user, asUser } = await provenUserWithToken();
    await env.db.manager.update(User, { id: user.id }, { locale: 'en-GB' });

    await asUser.patch(`/users/${user.id}`, { phone: '+447911123456' }).expect(200);
    const [sms] = await waitFor('the code SMS', () => smsTo('+447911123456').length > 0 && smsTo('+447911123456'));
    const code = codeIn(sms!.text);

    expect(sms!.text).toBe(`Notofine: your verification code is ${code}. It expires in 15 minutes. Do not share it.`);
    expect(sms!.text.length).toBeLessThanOrEqual(160);
    expect(smsTo(user.phone!)).toEqual([]);
    const proven = await asUser.post(`/users/${user.id}/verifications/confirm`, { contact: 'phone', code }).expect(200);
    expect(proven.body).toMatchObject({ phone: '+447911123456', phone_verified: true });
  });
});

describe('codes whose address is no longer waiting, and texts whose address is no longer proven', () => {
  beforeAll(stopTheWorker);
  afterAll(stopTheWorker);

  it('does not send a code for an address replaced before its message went out: only the last address gets one', async () => {
    const { user, asUser } = await provenUserWithToken();
    await asUser.patch(`/users/${user.id}`, { email: 'first.choice@example.org' }).expect(200);
    await asUser.patch(`/users/${user.id}`, { email: 'second.choice@example.org' }).expect(200);

    await startTheWorker();
    const rows = await finalNotificationsOf(user.id);

    expect(rows.map((row) => [row.status, row.errorMessage])).toEqual([
      ['cancelled', 'The address this code was to prove is no longer waiting for one (proven, replaced or given up).'],
      ['sent', null],
    ]);
    expect(providers.email.calls.map((call) => call.to)).toEqual(['second.choice@example.org']);
    expect(await env.db.manager.findBy(ContactVerification, { userId: user.id })).toEqual([expect.objectContaining({ address: 'second.choice@example.org' })]);
  });

  it('cancels at sending time a reminder text written with a user token whose address a backend changed since (not proven)', async () => {
    await stopTheWorker();
    const { user, asUser } = await provenUserWithToken();
    await asUser.post(`/users/${user.id}/reminders`, { frequency_days: 1, channels: ['email', 'push'], message: 'Mon rappel' }).expect(201);
    await client.post('/reminders/process').expect(200);
    await client.patch(`/users/${user.id}`, { email: 'changed.by.backend@example.com' }).expect(200);

    await startTheWorker();
    const rows = await finalNotificationsOf(user.id);

    expect(rows.map((row) => [row.channel, row.status, row.errorMessage])).toEqual([
      ['email', 'cancelled', 'Its text was written with a user token, and the user has not proven the address of email.'],
      ['push', 'sent', null],
    ]);
    expect(providers.email.calls).toEqual([]);
  });
});
