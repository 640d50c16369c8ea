import { probe } from '@notofine/lifecycle';
import { Router } from 'express';
import type { ApiDeps } from '../deps';

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
    const [postgres, redisCheck] = await Promise.all([probe(() => dataSource.query('SELECT 1')), probe(() => redis.ping())]);
    const checks = { postgres, redis: redisCheck };
    const ready = !isShuttingDown() && postgres === 'ok' && redisCheck === 'ok';
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : isShuttingDown() ? 'shutting down' : 'not ready', checks });
  });

  return router;
}
