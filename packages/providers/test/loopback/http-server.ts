import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A request as a loopback provider received it. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** How the loopback answers one request: a status, headers, a body (JSON if not a string), or silence. */
export type Reply = { status: number; headers?: Record<string, string>; body?: unknown } | 'hang';

export type Responder = (request: RecordedRequest) => Reply;

export interface LoopbackHttpServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Answers the next requests with these replies, one each, then with the default again. */
  script(...replies: Array<Reply | Responder>): void;
  close(): Promise<void>;
}

/**
 * An HTTP server on a random loopback port that records every request and answers with the
 * scripted replies, or the `respond` default: the base of each provider's test double.
 */
export async function startHttpServer(respond: Responder): Promise<LoopbackHttpServer> {
  const requests: RecordedRequest[] = [];
  const scripted: Array<Reply | Responder> = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(request);
      const next = scripted.shift() ?? respond;
      const reply = typeof next === 'function' ? next(request) : next;
      if (reply === 'hang') return;
      const body = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
      res.writeHead(reply.status, { ...(typeof reply.body === 'object' && { 'Content-Type': 'application/json' }), ...reply.headers });
      res.end(body);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script(...replies) {
      scripted.push(...replies);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
