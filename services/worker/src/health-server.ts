import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StartupError } from '@notofine/errors';
import type { Logger } from '@notofine/logger';

export interface Readiness {
  readonly ready: boolean;
  /** Each dependency's state: `ok` or what is wrong. */
  readonly checks: Readonly<Record<string, string>>;
}

export interface HealthServer {
  /** The port it listens on (useful when asked for port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The worker's small HTTP port for Kubernetes probes: `GET /healthz` answers while the process
 * lives; `GET /readyz` answers 200 when `readiness` says so, 503 with the failing checks otherwise.
 * Extra routes (e.g. metrics) answer `GET` with a body and content type.
 */
export async function startHealthServer(options: {
  host: string;
  port: number;
  logger: Logger;
  readiness: () => Promise<Readiness>;
  routes?: Readonly<Record<string, () => Promise<{ contentType: string; body: string }>>>;
}): Promise<HealthServer> {
  const { logger, readiness, routes = {} } = options;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const send = (status: number, body: unknown, contentType = 'application/json') => {
      res.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    if (req.method !== 'GET') return send(405, { status: 'method not allowed' });
    if (path === '/healthz') return send(200, { status: 'ok' });
    if (path === '/readyz') {
      readiness().then(
        (state) => send(state.ready ? 200 : 503, { status: state.ready ? 'ready' : 'not ready', checks: state.checks }),
        (error: unknown) => send(503, { status: 'not ready', error: String(error) }),
      );
      return undefined;
    }
    const route = routes[path];
    if (route) {
      route().then(
        ({ contentType, body }) => send(200, body, contentType),
        (error: unknown) => {
          logger.error('health port route failed', { path, error });
          send(500, { status: 'error' });
        },
      );
      return undefined;
    }
    return send(404, { status: 'not found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const reason = error.code === 'EADDRINUSE' ? 'is already in use: stop the other process or set HEALTH_PORT' : `cannot be listened on (${error.message})`;
      reject(new StartupError(`Port ${options.port} on ${options.host} ${reason}.`, { cause: error }));
    });
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  logger.info('health port listening', { port });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
