import { Router } from 'express';
import type { ApiDeps } from '../deps';

const CHECK_TIMEOUT_MS = 1000;

/** Resolves to "ok", or to why the check failed or timed out. */
async function check(run: () => Promise<unknown>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${CHECK_TIMEOUT_MS} ms`), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([run().then(() => 'ok'), timeout]);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `/healthz`: the process answers (liveness). `/readyz`: PostgreSQL and Redis answer too
 * (readiness), 503 naming the one that does not. Neither needs an API key.
 */
export function healthRoutes({ dataSource, redis }: ApiDeps, isShuttingDown: () => boolean): Router {
  const router = Router();

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const [postgres, redisCheck] = await Promise.all([check(() => dataSource.query('SELECT 1')), check(() => redis.ping())]);
    const checks = { postgres, redis: redisCheck };
    const ready = !isShuttingDown() && postgres === 'ok' && redisCheck === 'ok';
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : isShuttingDown() ? 'shutting down' : 'not ready', checks });
  });

  return router;
}
