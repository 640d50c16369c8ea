import { spawn } from 'node:child_process';
import autocannon from 'autocannon';
import { BENCH_API_KEY, freePort, httpRequest, sleep } from './infra';
import { channelOf } from './seed';
import { round } from './stats';

export const AUTH_HEADERS = { authorization: `Bearer ${BENCH_API_KEY}`, 'content-type': 'application/json' };

export interface LoadResult {
  readonly requestsPerSecond: number;
  readonly requests: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly statusCodes: Record<string, number>;
  readonly seconds: number;
}

export function loadResult(result: autocannon.Result): LoadResult {
  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = (stat as { count?: number }).count ?? 0;
  return {
    requestsPerSecond: round(result.requests.total / result.duration),
    requests: result.requests.total,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    seconds: round(result.duration, 1),
  };
}

/** `POST /notifications/send` bodies: a random user of 1..users, the channels in turn. */
export function sendBodies(users: number): () => string {
  let i = 0;
  return () => {
    i += 1;
    return JSON.stringify({
      user_id: 1 + Math.floor(Math.random() * users),
      channel: channelOf(i),
      message: `Votre contravention REF${i} de 135,00 € est à régler avant le 15 janvier 2027.`,
      subject: 'Rappel de paiement',
    });
  };
}

/** autocannon POSTing a fresh body each request, keep-alive, authenticated. */
function postLoad(url: string, body: () => string, options: { connections: number; seconds: number; overallRate?: number; timeout?: number }): Promise<autocannon.Result> {
  return autocannon({
    url,
    method: 'POST',
    connections: options.connections,
    duration: options.seconds,
    headers: AUTH_HEADERS,
    ...(options.overallRate && { overallRate: options.overallRate }),
    ...(options.timeout && { timeout: options.timeout }),
    requests: [{ method: 'POST', setupRequest: (request) => ({ ...request, body: body() }) }],
  });
}

/** autocannon against `POST /notifications/send`, keep-alive. */
export async function sendLoad(
  baseUrl: string,
  users: number,
  options: { connections: number; seconds: number; overallRate?: number },
): Promise<LoadResult> {
  return loadResult(await postLoad(`${baseUrl}/notifications/send`, sendBodies(users), options));
}

/** Notifications per `POST /notifications/batch` request of the ingest scenario. */
export const BATCH_SIZE = 1000;

/** autocannon against `POST /notifications/batch`, {@link BATCH_SIZE} sends a request, keep-alive. */
export async function batchLoad(baseUrl: string, users: number, options: { connections: number; seconds: number }): Promise<LoadResult & { notificationsPerSecond: number }> {
  const one = sendBodies(users);
  const batch = () => `{"notifications":[${Array.from({ length: BATCH_SIZE }, one).join(',')}]}`;
  const result = await postLoad(`${baseUrl}/notifications/batch`, batch, { ...options, timeout: 60 });
  const accepted = (result['2xx'] ?? 0) * BATCH_SIZE;
  return { ...loadResult(result), notificationsPerSecond: round(accepted / result.duration) };
}

/**
 * A bare node:http server in a child process that reads the JSON body and answers 202 with a
 * notification-sized JSON body: the HTTP ceiling of this machine with this load generator.
 */
export async function startBareHttpServer(): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  const script = `
    const http = require('node:http');
    const reply = JSON.stringify({ id: 1, user_id: 1, channel: 'email', status: 'pending', message: 'x'.repeat(80), subject: 'Rappel de paiement',
      error_message: null, attempts: 0, provider: null, provider_message_id: null, sent_at: null, created_at: new Date().toISOString(), updated_at: new Date().toISOString() });
    http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
        res.writeHead(202, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(reply) });
        res.end(reply);
      });
    }).listen(${port}, '127.0.0.1');`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let tries = 0; ; tries += 1) {
    try {
      await httpRequest(url, { method: 'POST', body: '{}' });
      break;
    } catch (error) {
      if (tries > 100) throw error;
      await sleep(50);
    }
  }
  return { url, stop: () => child.kill('SIGTERM') };
}
