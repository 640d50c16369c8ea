import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One call the provider received, and what it answered. */
export interface ProviderCall {
  readonly notificationId: number;
  readonly at: number;
  /** The HTTP status answered; null while held or when it never answered (hang). */
  status: number | null;
}

/** How the provider answers a call: accept (202), refuse with a status, or hang. */
export type Behaviour = (call: ProviderCall, index: number) => { status: number; retryAfter?: number } | 'hang' | { delayMs: number };

/**
 * A loopback SendGrid (`POST /v3/mail/send`) that records every call with the notification id the
 * worker puts in `custom_args`, and answers as the scenario says: the "provider" of the fault
 * tests, reached through the real SDK.
 */
export class RecordingProvider {
  readonly calls: ProviderCall[] = [];
  behaviour: Behaviour = () => ({ status: 202 });
  /** Latency of every answer, so that a crash can fall in the middle of a send. */
  latencyMs = 5;
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {}

  static async start(): Promise<RecordingProvider> {
    const provider: RecordingProvider = new RecordingProvider(createServer((req, res) => provider.handle(req, res)));
    provider.server.on('connection', (socket) => {
      provider.sockets.add(socket);
      socket.on('close', () => provider.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => provider.server.listen(0, '127.0.0.1', resolve));
    return provider;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Calls per notification id, only those the provider accepted (a real send). */
  accepted(): Map<number, number> {
    const counts = new Map<number, number>();
    for (const call of this.calls) if (call.status === 202) counts.set(call.notificationId, (counts.get(call.notificationId) ?? 0) + 1);
    return counts;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let notificationId = -1;
      try {
        notificationId = Number((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { custom_args?: { notification_id?: string } }).custom_args?.notification_id ?? -1);
      } catch {
        // recorded as -1: a call no notification explains
      }
      const call: ProviderCall = { notificationId, at: Date.now(), status: null };
      this.calls.push(call);
      const answer = this.behaviour(call, this.calls.length - 1);
      if (answer === 'hang') return;
      const delay = 'delayMs' in answer ? answer.delayMs : this.latencyMs;
      const status = 'status' in answer ? answer.status : 202;
      setTimeout(() => {
        if (res.destroyed) return;
        call.status = status;
        const headers: Record<string, string> = { 'Content-Type': 'application/json' };
        if (status === 202) headers['X-Message-Id'] = `sg-${this.calls.length}`;
        if ('retryAfter' in answer && answer.retryAfter !== undefined) headers['Retry-After'] = String(answer.retryAfter);
        res.writeHead(status, headers);
        res.end(status === 202 ? '' : JSON.stringify({ errors: [{ message: `status ${status}` }] }));
      }, delay);
    });
  }
}
