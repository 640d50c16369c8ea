import { Reminder, type Channel, type NotificationStatus } from '@notofine/db';
import { insertReminder, insertTicket, insertUser } from '@test/factories';
import { API_DOMAINS } from '../src/docs/api-domains';
import { openApiPath } from '../src/docs/document';
import { startApi, type ApiHarness } from './api-harness';
import { expectInvalidField, expectProblem } from './expectations';

// Query parameters are checked as body fields are: an unknown one is refused, naming it, on every
// route an API key or a user token calls; and the listings take the filters their users expect.

let harness: ApiHarness;
beforeAll(async () => {
  harness = await startApi();
});
afterAll(() => harness.stop());

const KEYED_OPERATIONS = API_DOMAINS.flatMap((domain) => domain.operations).filter((operation) => operation.access.kind === 'key');

describe('an unknown query parameter', () => {
  it.each(KEYED_OPERATIONS.map((operation) => [`${operation.method.toUpperCase()} ${openApiPath(operation.path)}`, operation] as const))(
    'is refused with 400 naming it on %s, before anything is done',
    async (_route, operation) => {
      const path = operation.path.replace(/:\w+/g, '1');

      const response = await harness.client[operation.method](`${path}?chanel=sms`);

      expectInvalidField(response, 'query.chanel');
      const takes = Object.keys(operation.query ?? {});
      expect(response.body.errors).toEqual([{ field: 'query.chanel', message: `is not a known query parameter (this route takes ${takes.length > 0 ? takes.join(', ') : 'none'})` }]);
    },
  );

  it('is refused with each one named, among known ones', async () => {
    const user = await insertUser(harness.env.db);

    const response = await harness.client.get(`/users/${user.id}/notifications?limit=5&chanel=sms&order=asc`);

    expect(response.body.errors.map((error: { field: string }) => error.field)).toEqual(['query.chanel', 'query.order']);
  });

  it('is not checked where others than our clients build the URL: probes, the document, providers\' webhooks', async () => {
    await harness.client.get('/healthz?probe=kubelet').expect(200);
    await harness.client.get('/openapi.json?v=1').expect(200);
  });
});

describe('the notification listings', () => {
  const START = Date.parse('2026-06-01T00:00:00Z');
  const HOUR = 3_600_000;

  /** Twelve notifications an hour apart from `start`, the channels and statuses in turn. */
  async function userWithHistory(start = START): Promise<{ userId: number; rows: Array<{ id: number; channel: Channel; status: NotificationStatus; createdAt: string }> }> {
    const user = await insertUser(harness.env.db);
    const channels: Channel[] = ['email', 'sms', 'push'];
    const statuses: NotificationStatus[] = ['sent', 'failed', 'sent', 'cancelled'];
    const rows = [];
    for (let i = 0; i < 12; i += 1) {
      const createdAt = new Date(start + i * HOUR).toISOString();
      const [row] = (await harness.env.db.query(`INSERT INTO notifications (user_id, channel, message, status, created_at) VALUES ($1, $2, 'm', $3, $4) RETURNING id`, [
        user.id,
        channels[i % 3],
        statuses[i % 4],
        createdAt,
      ])) as Array<{ id: string }>;
      rows.push({ id: Number(row!.id), channel: channels[i % 3]!, status: statuses[i % 4]!, createdAt });
    }
    return { userId: user.id, rows: rows.reverse() };
  }

  /** Every page of a listing, following next_cursor. */
  async function allPages(url: string): Promise<number[][]> {
    const pages: number[][] = [];
    let next: string | null = url;
    while (next) {
      const { body }: { body: { notifications: Array<{ id: number }>; next_cursor: string | null } } = await harness.client.get(next).expect(200);
      pages.push(body.notifications.map((n: { id: number }) => n.id));
      next = body.next_cursor ? `${url}&cursor=${encodeURIComponent(body.next_cursor as string)}` : null;
    }
    return pages;
  }

  it('keep only the channel, status and creation times asked for, newest first, page after page', async () => {
    const { userId, rows } = await userWithHistory();
    const since = new Date(START + 2 * HOUR).toISOString();
    const until = new Date(START + 11 * HOUR).toISOString();

    const sms = await allPages(`/users/${userId}/notifications?limit=2&channel=sms`);
    const sentEmail = await allPages(`/users/${userId}/notifications?limit=1&channel=email&status=sent`);
    const window = await allPages(`/users/${userId}/notifications?limit=4&since=${since}&until=${until}`);

    expect(sms).toEqual([rows.filter((r) => r.channel === 'sms').slice(0, 2).map((r) => r.id), rows.filter((r) => r.channel === 'sms').slice(2).map((r) => r.id)]);
    expect(sentEmail.flat()).toEqual(rows.filter((r) => r.channel === 'email' && r.status === 'sent').map((r) => r.id));
    expect(window.flat()).toEqual(rows.filter((r) => r.createdAt >= since && r.createdAt < until).map((r) => r.id));
    expect(window.map((page) => page.length)).toEqual([4, 4, 1]);
  });

  it('keep the filters for operators too, every user\'s notifications of any status merged newest first', async () => {
    // Alone in its window, which the other tests' users are not in.
    const start = Date.parse('2025-03-01T00:00:00Z');
    const { rows } = await userWithHistory(start);
    const since = new Date(start).toISOString();
    const until = new Date(start + 12 * HOUR).toISOString();

    const all = await allPages(`/notifications?limit=5&since=${since}&until=${until}`);
    const push = await allPages(`/notifications?limit=3&channel=push&since=${since}&until=${until}`);
    const failed = await allPages(`/notifications?limit=3&status=failed&since=${since}&until=${until}`);

    expect(all.flat()).toEqual(rows.map((r) => r.id));
    expect(push.flat()).toEqual(rows.filter((r) => r.channel === 'push').map((r) => r.id));
    expect(failed.flat()).toEqual(rows.filter((r) => r.status === 'failed').map((r) => r.id));
  });

  it('take since and until with their offset, a + left unencoded included', async () => {
    const { userId, rows } = await userWithHistory();

    const { body } = await harness.client.get(`/users/${userId}/notifications?since=2026-06-01T11:00:00+10:00&until=2026-06-01T03:00:00.000Z`).expect(200);

    expect(body.notifications.map((n: { id: number }) => n.id)).toEqual(rows.filter((r) => r.createdAt >= '2026-06-01T01:00' && r.createdAt < '2026-06-01T03:00').map((r) => r.id));
  });

  it.each([
    ['a channel that is not one', 'channel=fax', 'query.channel'],
    ['a status that is not one', 'status=lost', 'query.status'],
    ['since without its offset', 'since=2026-06-01T00:00:00', 'query.since'],
    ['since on a day that does not exist', 'since=2026-02-30T00:00:00Z', 'query.since'],
    ['until that is not a date', 'until=yesterday', 'query.until'],
    ['until not later than since', 'since=2026-06-01T00:00:00Z&until=2026-06-01T00:00:00Z', 'query.until'],
    ['a filter given twice', 'channel=sms&channel=email', 'query.channel'],
  ])('refuse %s with 400', async (_case, query, field) => {
    const user = await insertUser(harness.env.db);

    for (const path of [`/users/${user.id}/notifications`, '/notifications']) expectInvalidField(await harness.client.get(`${path}?${query}`), field);
  });

  it('refuse a cursor with other filters, or another user\'s, than the page that gave it', async () => {
    const { userId, rows } = await userWithHistory();
    const other = await insertUser(harness.env.db);
    const { body: first } = await harness.client.get(`/users/${userId}/notifications?limit=2&channel=sms`).expect(200);
    const cursor = encodeURIComponent(first.next_cursor as string);

    const same = await harness.client.get(`/users/${userId}/notifications?limit=3&channel=sms&cursor=${cursor}`).expect(200);
    const refused = [
      await harness.client.get(`/users/${userId}/notifications?limit=2&cursor=${cursor}`),
      await harness.client.get(`/users/${userId}/notifications?limit=2&channel=email&cursor=${cursor}`),
      await harness.client.get(`/users/${userId}/notifications?limit=2&channel=sms&status=sent&cursor=${cursor}`),
      await harness.client.get(`/users/${userId}/notifications?limit=2&channel=sms&since=2026-01-01T00:00:00Z&cursor=${cursor}`),
      await harness.client.get(`/users/${other.id}/notifications?limit=2&channel=sms&cursor=${cursor}`),
      await harness.client.get(`/notifications?limit=2&channel=sms&cursor=${cursor}`),
    ];

    expect(same.body.notifications.map((n: { id: number }) => n.id)).toEqual(rows.filter((r) => r.channel === 'sms').slice(2).map((r) => r.id));
    for (const response of refused) {
      expectProblem(response, 400, 'validation-error');
      expect(response.body.errors).toEqual([{ field: 'query.cursor', message: expect.stringContaining('belongs to a listing with other filters') }]);
    }
  });

  it('still take a cursor given out before cursors carried their filters, with the filters there were then', async () => {
    const { userId, rows } = await userWithHistory();
    const legacy = Buffer.from(JSON.stringify([rows[3]!.createdAt, rows[3]!.id])).toString('base64url');

    const { body } = await harness.client.get(`/users/${userId}/notifications?limit=2&status=sent&cursor=${legacy}`).expect(200);
    const refused = await harness.client.get(`/users/${userId}/notifications?limit=2&channel=sms&cursor=${legacy}`);

    expect(body.notifications.map((n: { id: number }) => n.id)).toEqual(rows.slice(4).filter((r) => r.status === 'sent').slice(0, 2).map((r) => r.id));
    expectProblem(refused, 400, 'validation-error');
  });
});

describe('the ticket and reminder listings', () => {
  it('list the tickets of a status', async () => {
    const user = await insertUser(harness.env.db);
    const unpaid = await insertTicket(harness.env.db, user.id);
    const paid = await insertTicket(harness.env.db, user.id, { status: 'paid' });

    const { body } = await harness.client.get(`/users/${user.id}/tickets?status=paid`).expect(200);

    expect(body.tickets.map((t: { id: number }) => t.id)).toEqual([paid.id]);
    expect(unpaid.id).not.toBe(paid.id);
  });

  it('list the reminders that are on, or off, an ended one being off', async () => {
    const user = await insertUser(harness.env.db);
    const on = await insertReminder(harness.env.db, user.id, ['email']);
    const off = await insertReminder(harness.env.db, user.id, ['email'], { active: false });
    const ended = await insertReminder(harness.env.db, user.id, ['email'], { endAt: new Date(Date.now() - 1000) });

    const active = await harness.client.get(`/users/${user.id}/reminders?active=true`).expect(200);
    const inactive = await harness.client.get(`/users/${user.id}/reminders?active=false`).expect(200);
    const malformed = await harness.client.get(`/users/${user.id}/reminders?active=yes`);

    expect(active.body.reminders.map((r: { id: number }) => r.id)).toEqual([on.id]);
    expect(inactive.body.reminders.map((r: { id: number }) => r.id)).toEqual([off.id, ended.id]);
    expect((await harness.env.db.manager.findOneByOrFail(Reminder, { id: ended.id })).active).toBe(true);
    expectInvalidField(malformed, 'query.active');
  });

  it('are documented with their filters, as the notification listings are', () => {
    const queryOf = (method: string, path: string) => Object.keys(KEYED_OPERATIONS.find((o) => o.method === method && o.path === path)?.query ?? {}).sort();

    expect(queryOf('get', '/users/:userId/notifications')).toEqual(['channel', 'cursor', 'limit', 'since', 'status', 'until']);
    expect(queryOf('get', '/notifications')).toEqual(['channel', 'cursor', 'limit', 'since', 'status', 'until']);
    expect(queryOf('get', '/users/:userId/tickets')).toEqual(['status']);
    expect(queryOf('get', '/users/:userId/reminders')).toEqual(['active']);
    expect(queryOf('get', '/users/:userId/devices')).toEqual([]);
  });
});
