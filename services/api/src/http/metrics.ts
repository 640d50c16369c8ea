import type { Metrics, QueueCounts, RedisStatus } from '@notofine/metrics';
import { Router, type RequestHandler } from 'express';
import { routeOf } from './request-context';

/**
 * Times every request into `notofine_http_request_duration_seconds`, labelled with the route
 * pattern (`/users/:userId`), never the raw path: ids would make one series per user.
 */
export function timeRequests(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const stop = metrics.httpRequestDuration.startTimer();
    res.on('finish', () => {
      stop({ method: req.method, route: routeOf(req) ?? 'unmatched', status: String(res.statusCode) });
    });
    next();
  };
}

/**
 * `GET /metrics`: Prometheus text exposition, without an API key (like the probes); keep it off the
 * public ingress.
 */
export function metricsRoute(metrics: Metrics, queues: () => readonly QueueCounts[], redis: Readonly<Record<string, RedisStatus>>): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    const { contentType, body } = await metrics.render(queues(), redis);
    res.type(contentType).send(body);
  });
  return router;
}
