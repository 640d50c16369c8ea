import { Client } from 'pg';
import type { RecordingProvider } from './recording-provider';
import { sleep } from './wait';

/** What the scenario accepted, and the verdict on each notification. */
export interface Verdict {
  readonly accepted: number;
  readonly sent: number;
  readonly failed: number;
  /** Accepted (2xx) but neither sent nor failed in the end, or gone. */
  readonly lost: number;
  /** Sent more than once (the provider accepted it more than once). */
  readonly duplicated: number;
  /** Calls for a notification that does not exist. */
  readonly unexpected: number;
}

/**
 * Sends notifications through the API as a client would, `concurrency` requests at a time, and
 * keeps the ids of those it got a 2xx for: the notifications the service promised to deliver.
 */
export async function burst(options: {
  apiUrl: string;
  apiKey: string;
  userIds: readonly number[];
  count: number;
  concurrency: number;
  /** Called after each answered request with how many were sent so far: scenarios inject faults from it. */
  onProgress?: (done: number) => void | Promise<void>;
}): Promise<{ accepted: number[]; refused: number; refusedBy: Map<number | 'network', number> }> {
  const accepted: number[] = [];
  let refused = 0;
  // By HTTP status, or `network` for a connection refused or reset: the service promised nothing.
  const refusedBy = new Map<number | 'network', number>();
  const refuse = (reason: number | 'network') => {
    refused += 1;
    refusedBy.set(reason, (refusedBy.get(reason) ?? 0) + 1);
  };
  let next = 0;
  let done = 0;
  const one = async (index: number) => {
    try {
      const response = await fetch(`${options.apiUrl}/notifications/send`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${options.apiKey}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ user_id: options.userIds[index % options.userIds.length], channel: 'email', message: `Rappel n°${index}` }),
        signal: AbortSignal.timeout(15_000),
      });
      if (response.status === 202) accepted.push(((await response.json()) as { id: number }).id);
      else refuse(response.status);
    } catch {
      refuse('network');
    }
    done += 1;
    await options.onProgress?.(done);
  };
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next < options.count) await one(next++);
    }),
  );
  return { accepted, refused, refusedBy };
}

/**
 * Waits until every accepted notification is final (sent or failed), then judges each, Jepsen
 * style, against the provider's record of calls.
 */
export async function judge(options: { databaseUrl: string; schema: string; accepted: readonly number[]; provider: RecordingProvider; deadlineMs: number }): Promise<Verdict> {
  const client = new Client({ connectionString: options.databaseUrl });
  await client.connect();
  try {
    const statusOf = async () => {
      const { rows } = await client.query<{ id: string; status: string }>(`SELECT id, status FROM "${options.schema}".notifications`);
      return new Map(rows.map((row) => [Number(row.id), row.status]));
    };
    const deadline = Date.now() + options.deadlineMs;
    let statuses = await statusOf();
    while (options.accepted.some((id) => statuses.get(id) === 'pending') && Date.now() < deadline) {
      await sleep(200);
      statuses = await statusOf();
    }
    // Let late calls land before counting them.
    await sleep(300);
    const sends = options.provider.accepted();
    const final = (id: number) => statuses.get(id) === 'sent' || statuses.get(id) === 'failed';
    return {
      accepted: options.accepted.length,
      sent: options.accepted.filter((id) => statuses.get(id) === 'sent').length,
      failed: options.accepted.filter((id) => statuses.get(id) === 'failed').length,
      lost: options.accepted.filter((id) => !final(id)).length,
      duplicated: [...sends.values()].filter((count) => count > 1).length,
      unexpected: [...sends.keys()].filter((id) => !statuses.has(id)).length,
    };
  } finally {
    await client.end();
  }
}

/** Prints a scenario's line of the table. */
export function report(scenario: string, verdict: Verdict, extra = ''): void {
  const cells = [scenario.padEnd(44), ...(['accepted', 'sent', 'failed', 'lost', 'duplicated', 'unexpected'] as const).map((key) => String(verdict[key]).padStart(9))];
  process.stdout.write(`${cells.join(' ')}${extra ? `  ${extra}` : ''}\n`);
}
