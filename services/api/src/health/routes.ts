import { probe } from '@notofine/lifecycle';
import { Router } from 'express';
import type { ApiDeps } from '../deps';

/**
 * `/healthz`: the process answers (liveness). `/readyz`: the API can take requests (readiness):
 * PostgreSQL answers and it is not shutting down; 503 otherwise. Redis is shown in its checks but
 * not required: without it the API still accepts sends (written pending, queued by the workers'
 * sweeper once Redis is back), so an outage of Redis must not take every replica out of its
 * Service. Neither needs an API key.
 */
export function healthRoutes({ dataSource, redis }: ApiDeps, isShuttingDown: () => boolean): Router {
  const router = Router();

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const [postgres, redisCheck] = await Promise.all([
      probe(() => dataSource.query('SELECT 1')),
      redis.status === 'ready' ? probe(() => redis.ping()) : Promise.resolve(`not connected (${redis.status}): sends wait pending for its return`),
    ]);
    const checks = { postgres, redis: redisCheck };
    const ready = !isShuttingDown() && postgres === 'ok';
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : isShuttingDown() ? 'shutting down' : 'not ready', checks });
  });

  return router;
}
