import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { report } from './support/ledger';
import { PrivatePostgres } from './support/private-postgres';
import { PrivateRedis } from './support/private-redis';
import { API_KEY, DATABASE, Scenario } from './support/scenario';
import { sleep, waitUntil } from './support/wait';

// Each scenario sends a burst of notifications through the real API and worker processes, breaks
// something in the middle, and then judges every notification the API accepted (answered 202 for):
// lost (never sent nor failed), duplicated (the provider took it more than once), unexpected (a
// call for no notification). The table of verdicts is printed as the suite goes.

let postgres: PrivatePostgres;
let redis: PrivateRedis;
let scenario: Scenario | undefined;

beforeAll(async () => {
  [postgres, redis] = await Promise.all([PrivatePostgres.start(DATABASE), PrivateRedis.start()]);
  process.stdout.write(`\n${'scenario'.padEnd(44)} ${['accepted', 'sent', 'failed', 'lost', 'duplicated', 'unexpected'].map((h) => h.padStart(9)).join(' ')}\n`);
});
afterAll(async () => {
  postgres?.stop();
  await redis?.stop();
});
afterEach(async () => {
  await scenario?.close();
  scenario = undefined;
});

it('1. SIGKILL the worker again and again during a burst: nothing lost, at most one duplicate per kill', async () => {
  // One job at a time: a kill then cuts off at most one send whose outcome the worker could not
  // record (with concurrency N, up to N; each of those at most once more).
  scenario = await Scenario.open('1 worker killed repeatedly', postgres, redis, { WORKER_CONCURRENCY: '1' });
  const { provider } = scenario;
  provider.latencyMs = 10;
  await scenario.api.start();
  let worker = await scenario.startWorker();
  let kills = 0;

  const { accepted } = await scenario.burst(2000, async (done) => {
    if (done % 500 === 250 && kills < 3) {
      kills += 1;
      await worker.signal('SIGKILL');
      worker = await scenario!.startWorker();
    }
  });
  const verdict = await scenario.judge(accepted);

  report(scenario.name, verdict, `${kills} kills`);
  expect(kills).toBe(3);
  expect(verdict).toMatchObject({ lost: 0, unexpected: 0 });
  expect(verdict.duplicated).toBeLessThanOrEqual(kills);
  expect(Math.max(...provider.accepted().values())).toBeLessThanOrEqual(2);
});

it('2. SIGKILL the API between a commit and its enqueue: nothing lost, the committed row is sent too', async () => {
  scenario = await Scenario.open('2 API killed after commit', postgres, redis);
  await scenario.startWorker();
  await scenario.api.start({ FAULT_CRASH_AFTER_COMMIT: '300' });

  const first = await scenario.burst(600);
  const crash = await scenario.api.exited();
  await scenario.api.start();
  const second = await scenario.burst(300);
  const accepted = [...first.accepted, ...second.accepted];
  const verdict = await scenario.judge(accepted);
  // The notifications whose request the crash cut off were committed all the same: the sweeper
  // queues them once they are older than its grace period, and they go out.
  let rows = await scenario.rows();
  await waitUntil('the committed but unanswered notifications to be sent', async () => {
    rows = await scenario!.rows();
    return rows.every((row) => row.status === 'sent');
  });

  report(scenario.name, verdict, `killed by ${crash.signal}; ${rows.length - accepted.length} committed but unanswered, all sent`);
  expect(crash.signal).toBe('SIGKILL');
  expect(verdict).toMatchObject({ lost: 0, duplicated: 0, unexpected: 0 });
  expect(rows.length).toBeGreaterThan(accepted.length);
  expect(Math.max(...scenario.provider.accepted().values())).toBe(1);
});

it('3. restart Redis mid-burst, then flush it mid-burst: nothing lost', async () => {
  scenario = await Scenario.open('3 Redis restarted then flushed', postgres, redis);
  await scenario.api.start();
  await scenario.startWorker();

  // The requests go on while Redis is away (the API keeps accepting), 300 of them; the rest wait
  // for its return, so that the flush, 300 requests later, comes mid-burst however fast the API is.
  let away: Promise<void> | undefined;
  let flushAfter = Infinity;
  let flushed = false;
  const { accepted } = await scenario.burst(1500, async (done) => {
    if (done === 400) {
      await redis.pause();
      away = sleep(1500).then(() => redis.resume());
    }
    if (away && done >= 700) {
      await away;
      if (flushAfter === Infinity) flushAfter = done + 300;
    }
    if (done >= flushAfter && !flushed) {
      flushed = true;
      await redis.flush();
    }
  });
  const verdict = await scenario.judge(accepted);

  report(scenario.name, verdict, flushed ? 'flushed' : 'not flushed');
  expect(flushed).toBe(true);
  expect(verdict).toMatchObject({ lost: 0, unexpected: 0 });
  expect(verdict.accepted).toBeGreaterThan(1000);
});

it('4. stop PostgreSQL for 10 s mid-burst: nothing lost, both services recover without a restart', async () => {
  scenario = await Scenario.open('4 PostgreSQL stopped for 10 s', postgres, redis);
  await scenario.api.start();
  const worker = await scenario.startWorker();
  let readinessDuringOutage = 0;

  // A provider slow enough that the worker still has a backlog when PostgreSQL goes away.
  scenario.provider.latencyMs = 30;
  const during = await scenario.burst(1200, async (done) => {
    if (done === 300) {
      postgres.pause();
      readinessDuringOutage = (await fetch(`${scenario!.apiUrl}/readyz`)).status;
      await sleep(10_000);
      postgres.resume();
    }
  });
  // The same processes, with no restart, take new work once it is back.
  const after = await scenario.burst(300);
  const accepted = [...during.accepted, ...after.accepted];
  const verdict = await scenario.judge(accepted);

  report(scenario.name, verdict, `${during.refused} refused during the outage, ${after.accepted.length}/300 accepted after`);
  // Refused with a 503 that says so, never a 500 or a dropped connection.
  expect([...during.refusedBy.keys()]).toEqual([503]);
  expect(after.accepted).toHaveLength(300);
  expect(readinessDuringOutage).toBe(503);
  expect(scenario.api.running && worker.running).toBe(true);
  expect(verdict).toMatchObject({ lost: 0, unexpected: 0 });
  expect((await fetch(`${scenario.apiUrl}/readyz`)).status).toBe(200);
});

it('5. a provider that hangs, fails and throttles: nothing lost, attempts within the policy, 429s not counted', async () => {
  scenario = await Scenario.open('5 provider hangs, 5xx, 429 storm', postgres, redis, { PROVIDER_TIMEOUT_MS: '500', DELIVERY_LEASE_MS: '3000' });
  const { provider } = scenario;
  const stormUntil = Date.now() + 6000;
  provider.behaviour = (_call, index) => {
    if (index % 17 === 3) return 'hang';
    if (index % 11 === 5) return { status: 503 };
    if (Date.now() < stormUntil && index % 3 === 0) return { status: 429, retryAfter: 1 };
    return { status: 202 };
  };
  await scenario.api.start();
  await scenario.startWorker();

  const { accepted } = await scenario.burst(600);
  const verdict = await scenario.judge(accepted, 120_000);
  const rows = await scenario.rows();

  const answered = (status: number | null) => provider.calls.filter((call) => call.status === status).length;
  report(scenario.name, verdict, `${provider.calls.length} calls: ${answered(202)} × 202, ${answered(429)} × 429, ${answered(503)} × 503, ${answered(null)} hung`);
  expect(verdict).toMatchObject({ lost: 0, unexpected: 0 });
  for (const row of rows) {
    const calls = provider.calls.filter((call) => call.notificationId === row.id);
    const throttled = calls.filter((call) => call.status === 429).length;
    // Every call but a throttled one is an attempt; no notification spent more than the policy.
    expect({ id: row.id, attempts: row.attempts }).toEqual({ id: row.id, attempts: calls.length - throttled });
    expect(row.attempts).toBeLessThanOrEqual(8);
  }
});

it('6. SIGTERM both services mid-burst: they exit in time, nothing lost, nothing sent twice', async () => {
  scenario = await Scenario.open('6 SIGTERM mid-burst', postgres, redis);
  scenario.provider.latencyMs = 50;
  await scenario.api.start();
  const worker = await scenario.startWorker();
  const exits: Array<{ code: number | null; ms: number }> = [];

  const { accepted } = await scenario.burst(800, async (done) => {
    if (done === 400) exits.push(...(await Promise.all([scenario!.api.signal('SIGTERM'), worker.signal('SIGTERM')])));
  });
  await scenario.api.start();
  await scenario.startWorker();
  const verdict = await scenario.judge(accepted);

  report(scenario.name, verdict, `exits ${exits.map((exit) => `${exit.code} in ${exit.ms} ms`).join(', ')}`);
  for (const exit of exits) {
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(5000 + 2000);
  }
  expect(verdict).toMatchObject({ lost: 0, duplicated: 0, unexpected: 0 });
});

it('7. a job redelivered while its first worker is stalled: one provider call', async () => {
  scenario = await Scenario.open('7 stalled worker, job redelivered', postgres, redis, { PROVIDER_TIMEOUT_MS: '10000', DELIVERY_LEASE_MS: '20000' });
  const { provider } = scenario;
  // The provider takes 4 s to answer the first call: long enough for BullMQ (2 s lock) to give the
  // job of the stalled worker to the other one.
  provider.behaviour = () => ({ delayMs: 4000 });
  await scenario.api.start();
  const first = await scenario.startWorker();

  const { accepted } = await scenario.burst(1, undefined, 1);
  await waitUntil('the first worker to call the provider', () => provider.calls.length === 1);
  first.freeze(true);
  await scenario.startWorker();
  const queue = new Queue('email', { connection: { url: redis.url }, prefix: scenario.schema });
  let state = '';
  await waitUntil('the job to be redelivered to the second worker', async () => {
    state = await queue.getJobState(`notification-${accepted[0]}`);
    return state === 'completed';
  });
  const copy = await queue.getJob(`notification-${accepted[0]}`);
  first.freeze(false);
  const verdict = await scenario.judge(accepted);
  await queue.close();

  report(scenario.name, verdict, `redelivered copy returned ${String(copy?.returnvalue)}, ${provider.calls.length} call(s)`);
  expect(copy?.returnvalue).toBe('leased-elsewhere');
  expect(provider.calls).toHaveLength(1);
  expect(verdict).toMatchObject({ lost: 0, duplicated: 0, unexpected: 0, sent: 1 });
});

it('8. SIGKILL the API after it commits a send with an Idempotency-Key: the retry replays it, one row and one delivery', async () => {
  scenario = await Scenario.open('8 keyed sends, API killed after commit', postgres, redis);
  await scenario.startWorker();
  const [user] = scenario.userIds;
  const requests = {
    send: { path: '/notifications/send', body: { user_id: user, channel: 'email', message: 'Rappel unique' } },
    batch: { path: '/notifications/batch', body: { notifications: [1, 2, 3].map((n) => ({ user_id: user, channel: 'email', message: `Rappel ${n} du lot` })) } },
  };
  const outcomes: Array<{ kind: string; cutOff: boolean; signal: string | null; status: number; replayed: string | null; ids: number[]; waitedMs: number }> = [];

  for (const [kind, { path, body }] of Object.entries(requests)) {
    // The API dies right after committing this request's notifications, before it answers.
    await scenario.api.start({ FAULT_CRASH_AFTER_COMMIT: '1' });
    const key = randomUUID();
    const post = () =>
      fetch(`${scenario!.apiUrl}${path}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json', 'Idempotency-Key': key },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    const cutOff = await post().then(
      () => false,
      () => true,
    );
    const crash = await scenario.api.exited();
    await scenario.api.start();
    // The client retries with the same key, as long as it is told the first is still running (409,
    // Retry-After): a request that committed nothing is run again once taken for abandoned.
    const started = Date.now();
    let answer = await post();
    while (answer.status === 409 && Date.now() - started < 90_000) {
      await sleep(Number(answer.headers.get('retry-after') ?? '1') * 1000);
      answer = await post();
    }
    const json = (await answer.json()) as { id?: number; notifications?: Array<{ id: number }> };
    const ids = json.notifications?.map((n) => n.id) ?? (json.id === undefined ? [] : [json.id]);
    outcomes.push({ kind, cutOff, signal: crash.signal, status: answer.status, replayed: answer.headers.get('idempotent-replayed'), ids, waitedMs: Date.now() - started });
    if (outcomes.length < Object.keys(requests).length) await scenario.api.signal('SIGTERM');
  }
  const accepted = outcomes.flatMap((outcome) => outcome.ids);
  const verdict = await scenario.judge(accepted);
  const rows = await scenario.rows();
  const calls = scenario.provider.accepted();

  report(scenario.name, verdict, outcomes.map((o) => `${o.kind}: ${o.status}${o.replayed ? ' replayed' : ''} after ${o.waitedMs} ms`).join(', '));
  for (const outcome of outcomes) {
    expect(outcome).toMatchObject({ cutOff: true, signal: 'SIGKILL', status: 202, replayed: 'true' });
  }
  // Exactly the notifications of the first run of each request: one row and one delivery each.
  expect(rows.map((row) => row.id)).toEqual(accepted);
  expect(rows.every((row) => row.status === 'sent')).toBe(true);
  expect([...calls.keys()].sort((a, b) => a - b)).toEqual(accepted);
  expect(Math.max(...calls.values())).toBe(1);
  expect(verdict).toMatchObject({ accepted: 4, sent: 4, lost: 0, duplicated: 0, unexpected: 0 });
});
