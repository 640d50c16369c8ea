import { Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import type * as ApiService from '../../services/api/dist/api-service';
import { BENCH_API_KEY, httpRequest } from './infra';

// Run by bench/instructions.ts, under valgrind or with --cpu-prof: the built API in process, then
// `requests` requests of one route from a keep-alive client, 100 at a time (batches 4 at a time).
// Arguments: the route, the number of requests.

const CONCURRENCY = 100;
const BATCH_CONCURRENCY = 4;
const BATCH_SIZE = 1000;
const USERS = 100;
const ANSWER_WITHIN_MS = 600_000;

async function main(): Promise<void> {
  const [route, count] = process.argv.slice(2);
  const requests = Number(count);
  // The built service, as it is deployed (the bench measures dist/, not the sources).
  const { start } = (await import('../../services/api/dist/api-service.js')) as typeof ApiService;
  const api = await start({ listen: false });
  const server = api.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const call = (method: 'GET' | 'POST', path: string, payload: unknown, key: string | null) => {
    const body = payload === undefined ? undefined : JSON.stringify(payload);
    const headers = {
      ...(body !== undefined && { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }),
      ...(key && { authorization: `Bearer ${key}` }),
    };
    // Under valgrind a request waits behind a hundred others, each tens of times slower than usual.
    return httpRequest(`http://127.0.0.1:${port}${path}`, { method, headers, body, agent, timeoutMs: ANSWER_WITHIN_MS });
  };
  const send = (i: number, userId: number) => ({ user_id: userId, channel: 'email', message: `Votre contravention REF${i} est à régler.` });

  const users: number[] = [];
  for (let i = 0; i < USERS; i += 1) {
    const created = await call('POST', '/users', { full_name: `Instructions ${i}`, email: `instructions${i}@example.org` }, BENCH_API_KEY);
    if (created.status !== 201) throw new Error(`POST /users answered ${created.status}: ${created.body}`);
    users.push((JSON.parse(created.body) as { id: number }).id);
  }
  // Rows for the listings: 10 a user, the same in every run.
  if (route === 'list') {
    const seeded = await call('POST', '/notifications/batch', { notifications: Array.from({ length: BATCH_SIZE }, (_, i) => send(i, users[i % USERS]!)) }, BENCH_API_KEY);
    if (seeded.status !== 202) throw new Error(`POST /notifications/batch answered ${seeded.status}: ${seeded.body.slice(0, 500)}`);
  }
  const one = (i: number) => {
    const userId = users[i % USERS]!;
    switch (route) {
      case 'refused':
        return call('POST', '/notifications/send', send(i, userId), null);
      case 'batch':
        return call('POST', '/notifications/batch', { notifications: Array.from({ length: BATCH_SIZE }, (_, j) => send(i * BATCH_SIZE + j, users[j % USERS]!)) }, BENCH_API_KEY);
      case 'list':
        return call('GET', `/users/${userId}/notifications?limit=10`, undefined, BENCH_API_KEY);
      default:
        return call('POST', '/notifications/send', send(i, userId), BENCH_API_KEY);
    }
  };
  const statuses = new Map<number, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: route === 'batch' ? BATCH_CONCURRENCY : CONCURRENCY }, async () => {
      while (next < requests) {
        const { status } = await one(next++);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  console.error(`answered ${[...statuses].map(([status, n]) => `${n} × ${status}`).join(', ')}`);
  agent.destroy();
  server.close();
  await api.stop();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
