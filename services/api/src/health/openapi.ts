import { json, OPEN, record, ref, type ApiDomain } from '../docs/operation';

const CHECK = { type: 'string', description: '`ok`, or why the dependency did not answer.' } as const;

/** The probes (routes.ts) and the metrics (http/metrics.ts) as the OpenAPI document shows them. */
export const healthApi: ApiDomain = {
  tag: { name: 'Operations', description: 'Probes and metrics, for the orchestrator and Prometheus: keep them off the public ingress.' },
  schemas: {
    Liveness: record({ status: { type: 'string', enum: ['ok'] } }),
    Readiness: record({
      status: { type: 'string', enum: ['ready', 'not ready', 'shutting down'] },
      checks: record({ postgres: CHECK, redis: CHECK }),
    }),
  },
  operations: [
    {
      method: 'get',
      path: '/healthz',
      summary: 'Liveness',
      description: 'The process answers.',
      access: OPEN,
      responses: { 200: json('Alive.', ref('Liveness')) },
    },
    {
      method: 'get',
      path: '/readyz',
      summary: 'Readiness',
      description: 'PostgreSQL answers and the process is not draining. Redis is shown in the checks but not required: while it is away, sends are still accepted (written pending, queued once it is back).',
      access: OPEN,
      responses: { 200: json('Ready.', ref('Readiness')), 503: json('Not ready: the checks say which dependency is missing.', ref('Readiness')) },
    },
    {
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics',
      description: 'Request durations by route and status, queue depths, reminder runs, whether each Redis connection is up (`notofine_redis_up`), and Node\'s process metrics, in the Prometheus text format.',
      access: OPEN,
      responses: { 200: { description: 'The metrics.', content: { 'text/plain': { type: 'string' } } } },
    },
  ],
};
