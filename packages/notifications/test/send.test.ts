import { Notification } from '@notofine/db';
import { NotFoundError, UnprocessableError, ValidationError } from '@notofine/errors';
import { DELIVERY_BACKOFF, DeliveryQueues, MAX_DELIVERY_ATTEMPTS, connectRedis, createRedis } from '@notofine/queue';
import { captureLogs } from '@test/capture-logs';
import { insertDevice, insertTicket, insertUser } from '@test/factories';
import { NotificationService } from '../src';
import { startService, type ServiceHarness } from './service-harness';

let harness: ServiceHarness;
beforeAll(async () => {
  harness = await startService();
});
afterAll(() => harness.stop());

describe('sendNotification', () => {
  it('writes a pending row and queues a job that carries its id only', async () => {
    const user = await insertUser(harness.env.db);
    const ticket = await insertTicket(harness.env.db, user.id);

    const notification = await harness.service.sendNotification({ userId: user.id, channel: 'sms', message: 'Votre contravention est due', ticketId: ticket.id });

    expect(notification).toMatchObject({ status: 'pending', channel: 'sms', ticketId: ticket.id, attempts: 0 });
    const job = await harness.queues.queue('sms').getJob(`notification-${notification.id}`);
    expect(job?.data).toEqual({ notificationId: notification.id });
    // The retry policy is the worker's: the job names it, with room for the most attempts a worker may give.
    expect(job?.opts).toMatchObject({ attempts: MAX_DELIVERY_ATTEMPTS, backoff: { type: DELIVERY_BACKOFF } });
  });

  it('refuses an unknown user, another user’s ticket, an unreachable or disabled channel, and writes nothing', async () => {
    const user = await insertUser(harness.env.db, { phone: null });
    const other = await insertUser(harness.env.db);
    const othersTicket = await insertTicket(harness.env.db, other.id);
    await harness.env.db.query(`INSERT INTO user_channel_preferences (user_id, channel, enabled) VALUES ($1, 'email', false)`, [user.id]);
    const send = (input: Partial<Parameters<NotificationService['sendNotification']>[0]>) =>
      harness.service.sendNotification({ userId: user.id, channel: 'push', message: 'Rappel', ...input });

    await expect(send({ userId: 999_999 })).rejects.toThrow(NotFoundError);
    await expect(send({ channel: 'email', ticketId: 999_999 })).rejects.toThrow(NotFoundError);
    await expect(send({ channel: 'email', ticketId: othersTicket.id })).rejects.toMatchObject({ status: 422, type: 'ticket-of-another-user' });
    await expect(send({ channel: 'sms' })).rejects.toMatchObject({ status: 422, type: 'channel-unreachable', message: expect.stringContaining('no phone number') });
    await expect(send({ channel: 'push' })).rejects.toMatchObject({ status: 422, message: expect.stringContaining('no active push device') });
    await expect(send({ channel: 'email' })).rejects.toMatchObject({ status: 422, type: 'channel-disabled' });
    await expect(send({ channel: 'email', message: ' ' })).rejects.toThrow(ValidationError);
    expect(await harness.env.db.manager.countBy(Notification, { userId: user.id })).toBe(0);
  });

  it('when the queue is unreachable, still accepts at once: the row stays pending for the sweeper, and the log says so', async () => {
    const { config } = harness.env;
    const redis = createRedis(config.redis.url, 'producer', 'notofine-tests-dead');
    await connectRedis(redis, config.redis.url);
    const queues = new DeliveryQueues(redis, config.redis.queuePrefix);
    const { logger, entries } = captureLogs();
    const service = new NotificationService({ dataSource: harness.env.db, queues, logger, reminderBatchSize: 10 });
    const user = await insertUser(harness.env.db);
    redis.disconnect();

    const started = Date.now();
    const notification = await service.sendNotification({ userId: user.id, channel: 'email', message: 'Rappel' });

    expect(Date.now() - started).toBeLessThan(2000);
    expect(notification).toMatchObject({ status: 'pending' });
    expect(await harness.env.db.manager.findOneByOrFail(Notification, { id: notification.id })).toMatchObject({ status: 'pending', errorMessage: null });
    expect(entries()).toContainEqual(expect.objectContaining({ level: 'warn', message: 'could not queue notifications now: the sweeper will', notification_ids: [notification.id] }));
    await queues.close();
  });
});

describe('sends made at the same time', () => {
  it('are written by one INSERT, each accepted or refused as if it were alone, the SMS cap counting the others', async () => {
    const service = new NotificationService({ dataSource: harness.env.db, queues: harness.queues, logger: harness.env.logger, reminderBatchSize: 10, smsDailyCap: 2 });
    const user = await insertUser(harness.env.db);
    const noPhone = await insertUser(harness.env.db, { phone: null });
    const send = (input: Partial<Parameters<NotificationService['sendNotification']>[0]>) =>
      service.sendNotification({ userId: user.id, channel: 'email', message: 'Rappel', ...input }).then(
        (notification) => notification,
        (error: unknown) => error as Error,
      );

    const outcomes = await Promise.all([
      send({}),
      send({ userId: 999_999 }),
      send({ channel: 'sms' }),
      send({ userId: noPhone.id, channel: 'sms' }),
      send({ channel: 'sms' }),
      send({ channel: 'sms' }),
      send({ ticketId: 999_999 }),
      send({ channel: 'email', message: 'Encore' }),
    ]);

    expect(outcomes.map((outcome) => (outcome instanceof Error ? (outcome as { type?: string }).type : outcome.status))).toEqual([
      'pending',
      'not-found',
      'pending',
      'channel-unreachable',
      'pending',
      'sms-daily-cap-reached',
      'not-found',
      'pending',
    ]);
    const written = await harness.env.db.manager.findBy(Notification, { userId: user.id });
    expect(written).toHaveLength(4);
    // now() is the statement's transaction's start: one statement wrote them all.
    expect(new Set(written.map((n) => n.createdAt.toISOString())).size).toBe(1);
    for (const notification of written) expect(await harness.queues.queue(notification.channel).getJob(`notification-${notification.id}`)).toBeDefined();
  });
});

describe('sendTicketNotification', () => {
  it('sends on every channel the owner can be reached on and has not turned off, and says why the others were skipped', async () => {
    const user = await insertUser(harness.env.db);
    await insertDevice(harness.env.db, user.id);
    await harness.env.db.query(`INSERT INTO user_channel_preferences (user_id, channel, enabled) VALUES ($1, 'sms', false)`, [user.id]);
    const ticket = await insertTicket(harness.env.db, user.id, { reference: 'ABC123' });

    const result = await harness.service.sendTicketNotification({ ticketId: ticket.id, message: 'Votre contravention #ABC123 est due', subject: 'Rappel de paiement' });

    expect(result.channels.email).toMatchObject({ status: 'pending' });
    expect(result.channels.push).toMatchObject({ status: 'pending' });
    expect(result.channels.sms).toEqual({ status: 'skipped', reason: 'the user turned sms off' });
    expect(result.notifications.map((n) => [n.channel, n.ticketId])).toEqual([
      ['email', ticket.id],
      ['push', ticket.id],
    ]);
  });

  it('refuses when no channel reaches the owner', async () => {
    const user = await insertUser(harness.env.db, { email: null, phone: null });
    const ticket = await insertTicket(harness.env.db, user.id);

    const sending = harness.service.sendTicketNotification({ ticketId: ticket.id, message: 'Rappel' });

    await expect(sending).rejects.toThrow(UnprocessableError);
    await expect(sending).rejects.toMatchObject({ message: expect.stringMatching(/email: the user has no email address; sms: the user has no phone number; push: the user has no active push device/) });
  });

  it('answers 404 for an unknown ticket', async () => {
    await expect(harness.service.sendTicketNotification({ ticketId: 424_242, message: 'Rappel' })).rejects.toThrow(NotFoundError);
  });
});
