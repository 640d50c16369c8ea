import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { BENCH_API_KEY, freePort, httpRequest, sleep } from './infra';
import { channelOf } from './seed';
import type { Settings } from './settings';
import { round } from './stats';

export const AUTH_HEADERS = { authorization: `Bearer ${BENCH_API_KEY}`, 'content-type': 'application/json' };

export interface LoadResult {
  readonly requestsPerSecond: number;
  readonly requests: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly statusCodes: Record<string, number>;
  readonly seconds: number;
  /** The load generator that measured it. */
  readonly tool: LoadTool;
}

/** What generates the load (see `Settings.loadTool`). */
export type LoadTool = Settings['loadTool'];

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
    mean: result.latency.mean,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    seconds: round(result.duration, 1),
    tool: 'autocannon',
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
export async function sendLoad(baseUrl: string, users: number, options: { connections: number; seconds: number; tool: LoadTool }): Promise<LoadResult> {
  const url = `${baseUrl}/notifications/send`;
  if (options.tool === 'wrk') return wrkLoad(url, sendScript(users), options);
  return loadResult(await postLoad(url, sendBodies(users), options));
}

/** Notifications per `POST /notifications/batch` request of the ingest scenario. */
export const BATCH_SIZE = 1000;

/** autocannon against `POST /notifications/batch`, {@link BATCH_SIZE} sends a request, keep-alive. */
export async function batchLoad(
  baseUrl: string,
  users: number,
  options: { connections: number; seconds: number; tool: LoadTool },
): Promise<LoadResult & { notificationsPerSecond: number }> {
  const url = `${baseUrl}/notifications/batch`;
  const load =
    options.tool === 'wrk'
      ? await wrkLoad(url, sendScript(users, BATCH_SIZE), { ...options, timeout: 60 })
      : loadResult(await postLoad(url, batchBodies(users), { ...options, timeout: 60 }));
  const accepted = (load.requests - load.non2xx) * BATCH_SIZE;
  return { ...load, notificationsPerSecond: round(accepted / load.seconds) };
}

function batchBodies(users: number): () => string {
  const one = sendBodies(users);
  return () => `{"notifications":[${Array.from({ length: BATCH_SIZE }, one).join(',')}]}`;
}

/**
 * The Lua of a wrk run POSTing bodies shaped as {@link sendBodies}'s: a random user of 1..users,
 * the channels in turn; `batch` of them in one `{"notifications": [...]}` when given.
 */
function sendScript(users: number, batch?: number): string {
  const one = `string.format('{"user_id":%d,"channel":"%s","message":"Votre contravention REF%d de 135,00 € est à régler avant le 15 janvier 2027.","subject":"Rappel de paiement"}', math.random(${users}), channels[i % 3 + 1], i)`;
  const body = batch === undefined ? 'one()' : `(function() local items = {} for k = 1, ${batch} do items[k] = one() end return '{"notifications":[' .. table.concat(items, ",") .. ']}' end)()`;
  return wrkScript(
    `wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local channels = { "email", "sms", "push" }
local i = 0
local function one()
  i = i + 1
  return ${one}
end`,
    `return wrk.format(nil, nil, nil, ${body})`,
  );
}

/**
 * A wrk script: authenticated with the bench's key, `setup` run once, `request` the body of wrk's
 * `request()` (it returns the request to send); `done` prints the figures as one JSON line.
 */
export function wrkScript(setup: string, request: string): string {
  return `
wrk.headers["Authorization"] = "Bearer ${BENCH_API_KEY}"
math.randomseed(os.time())
${setup}
request = function()
  ${request}
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%d,"status_errors":%d,"errors":%d,"timeouts":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, math.floor(latency.mean),
    e.status, e.connect + e.read + e.write, e.timeout))
end
`;
}

/**
 * wrk (one thread: it is C and event-driven, and leaves the other core to PostgreSQL and Redis)
 * running a {@link wrkScript} against `url`, keep-alive. Answers of 400 and over count as non-2xx
 * (wrk's status errors).
 */
export async function wrkLoad(url: string, script: string, options: { connections: number; seconds: number; timeout?: number }): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'notofine-wrk-'));
  const file = join(dir, 'load.lua');
  writeFileSync(file, script);
  try {
    const args = ['-t1', `-c${options.connections}`, `-d${options.seconds}s`, `--timeout`, `${options.timeout ?? 10}s`, '-s', file, url];
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited with ${code}: ${out}`))));
    });
    const line = output.split('\n').find((text) => text.startsWith('WRK '));
    if (!line) throw new Error(`wrk printed no figures: ${output}`);
    const figures = JSON.parse(line.slice(4)) as Record<'requests' | 'duration_us' | 'p50_us' | 'p90_us' | 'p99_us' | 'max_us' | 'mean_us' | 'status_errors' | 'errors' | 'timeouts', number>;
    const seconds = figures.duration_us / 1e6;
    const ms = (us: number) => round(us / 1000, 2);
    return {
      requestsPerSecond: round(figures.requests / seconds),
      requests: figures.requests,
      p50: ms(figures.p50_us),
      p90: ms(figures.p90_us),
      p99: ms(figures.p99_us),
      max: ms(figures.max_us),
      mean: ms(figures.mean_us),
      non2xx: figures.status_errors,
      errors: figures.errors,
      timeouts: figures.timeouts,
      statusCodes: {},
      seconds: round(seconds, 1),
      tool: 'wrk',
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
