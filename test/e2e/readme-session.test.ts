import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '@notofine/config';
import { messageOn, renderUnpaidSummary } from '@notofine/notifications';
import { apiClient } from '@test/api-client';
import { createTestEnvironment, type TestEnvironment } from '@test/test-environment';
import { waitFor } from '@test/wait-for';
import { start as startApi, type ApiService } from '../../services/api/src/api-service';
import { start as startWorker, type WorkerService } from '../../services/worker/src/worker-service';

// The README's example session, run as it is written there: each `api ...` command against the API
// in-process, each `# ...` line under it checked against the answer (the fields it shows, in the
// order shown, the first one first; `...` for those it leaves out; `<now>` for any text), and the
// outbox line it shows against the one the worker writes.

const README = join(__dirname, '..', '..', 'README.md');

interface Step {
  readonly command: string;
  readonly expected: string | undefined;
}

/** The commands of the session's second block (after "and, in another terminal:"), each with the comment under it. */
async function sessionSteps(): Promise<{ intro: string; steps: Step[] }> {
  const readme = await readFile(README, 'utf8');
  const section = readme.slice(readme.indexOf('### An example session'), readme.indexOf('## Configuration'));
  const block = /and, in another terminal:\s*```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('README: the example session\'s commands were not found');
  const steps: Step[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('# ')) steps[steps.length - 1] = { ...steps.at(-1)!, expected: line.slice(2) };
    else if (/^(api |cat )/.test(line)) steps.push({ command: line, expected: undefined });
  }
  return { intro: section.slice(0, section.indexOf('and, in another terminal:')), steps };
}

/** `api -X POST localhost:3000/users -d '{...}'`, `api 'localhost:3000/...'` as a request. */
function requestOf(command: string): { method: 'get' | 'post'; path: string; body?: object } {
  const match = /^api (?:-X (\w+) )?'?localhost:3000([^' ]+)'?(?: -d '(.*)')?$/.exec(command);
  if (!match) throw new Error(`README: cannot read the command ${command}`);
  return { method: (match[1] ?? 'GET').toLowerCase() as 'get' | 'post', path: match[2]!, ...(match[3] && { body: JSON.parse(match[3]) as object }) };
}

const MORE = '\u2026more';

/** A `# 202 {...}` line: its status, if any, and its JSON, with the README's `...` made readable. */
function expectationOf(comment: string): { status: number | undefined; json: unknown } {
  const status = /^(\d{3}) /.exec(comment)?.[1];
  const text = comment.slice(comment.indexOf('{'), comment.lastIndexOf('}') + 1);
  const json = text.replaceAll(',...,', ',').replaceAll(',...}', '}').replaceAll(',...]', `,"${MORE}"]`);
  return { status: status === undefined ? undefined : Number(status), json: JSON.parse(json) };
}

/** Where `actual` differs from what the README shows, or null. */
function difference(actual: unknown, expected: unknown, path = '$'): string | null {
  if (typeof expected === 'string' && /<[a-z]+>/.test(expected)) {
    const pattern = new RegExp(`^${expected.split(/<[a-z]+>/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.+')}$`, 's');
    return typeof actual === 'string' && pattern.test(actual) ? null : `${path} is ${JSON.stringify(actual)}, not ${expected}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${path} is not a list`;
    const open = expected.at(-1) === MORE;
    const shown = open ? expected.slice(0, -1) : expected;
    if (open ? actual.length < shown.length : actual.length !== shown.length) return `${path} has ${actual.length} items`;
    for (const [i, item] of shown.entries()) {
      const found = difference(actual[i], item, `${path}[${i}]`);
      if (found) return found;
    }
    return null;
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null) return `${path} is not an object`;
    const keys = Object.keys(actual);
    const shown = Object.keys(expected);
    if (shown.length > 0 && keys[0] !== shown[0]) return `${path} starts with "${keys[0]}", not "${shown[0]}"`;
    let last = -1;
    for (const key of shown) {
      const at = keys.indexOf(key);
      if (at < 0) return `${path}.${key} is missing`;
      if (at < last) return `${path}.${key} comes earlier than the README shows`;
      last = at;
      const found = difference((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key], `${path}.${key}`);
      if (found) return found;
    }
    return null;
  }
  return actual === expected ? null : `${path} is ${JSON.stringify(actual)}, not ${JSON.stringify(expected)}`;
}

let env: TestEnvironment;
let api: ApiService;
let worker: WorkerService;
beforeAll(async () => {
  // As the README says to run it at night: no default quiet hours (the test environment's own).
  env = await createTestEnvironment({ DEFAULT_QUIET_HOURS: 'off' });
  api = await startApi({ config: env.config, logger: env.logger, listen: false });
  worker = await startWorker({ config: env.config, logger: env.logger, scheduleReminders: false });
});
afterAll(async () => {
  await worker.stop();
  await api.stop();
  await env.cleanup();
});

it('says that SMS wait for the end of the default quiet hours, which ones, and how to see them at once', async () => {
  const { intro } = await sessionSteps();
  const defaults = loadConfig({}).defaultQuietHours;

  expect(intro).toContain(`${defaults!.start} to ${defaults!.end}`);
  expect(intro).toContain('DEFAULT_QUIET_HOURS=off BOOTSTRAP_API_KEY=');
});

it('runs as the README shows it, answer by answer, down to the outbox line', async () => {
  const { steps } = await sessionSteps();
  const client = apiClient(api.app);
  let ticket: { due_date: string; reference: string; amount_cents: number } | undefined;

  expect(steps.map((step) => step.command.split(' ')[0])).toEqual(['api', 'api', 'api', 'api', 'api', 'api', 'cat']);
  for (const step of steps) {
    const { status, json } = expectationOf(step.expected!);
    if (step.command.startsWith('cat ')) {
      const file = join(env.outboxDir, step.command.replace('cat var/outbox/', ''));
      const line = await waitFor(`${file} to be written`, async () => (await readFile(file, 'utf8').catch(() => '')).split('\n')[0] || null);
      const written = JSON.parse(line) as Record<string, unknown>;
      const shown = json as Record<string, unknown>;
      expect(difference(written, { ...shown, text: '<text>' })).toBeNull();
      // Its text is what the service writes for the README's ticket before it is due (the clock
      // moves on; the README's date does not).
      const summary = renderUnpaidSummary(
        { count: 1, totalCents: ticket!.amount_cents, nextDueDate: ticket!.due_date, nextDueReference: ticket!.reference },
        { locale: 'fr', timezone: 'Europe/Paris' },
        new Date(Date.parse(`${ticket!.due_date}T00:00:00Z`) - 86_400_000),
      );
      expect(shown.text).toBe(messageOn('sms', summary!.text, 'service'));
      expect(String(written.text).split('. ')[0]).toBe(String(shown.text).split('. ')[0]);
      continue;
    }
    const { method, path, body } = requestOf(step.command);
    if (path.endsWith('/tickets')) ticket = body as typeof ticket;
    // A listing shows what the worker did once it is done: read again until then (or the deadline).
    const response =
      method === 'post'
        ? await client.post(path, body)
        : await waitFor(`${step.command} to answer as the README shows`, async () => {
            const answer = await client.get(path);
            return difference(answer.body, json) === null && answer;
          }).catch(() => client.get(path));
    expect({ command: step.command, difference: difference(response.body, json) }).toEqual({ command: step.command, difference: null });
    if (status !== undefined) expect(response.status).toBe(status);
  }
});
