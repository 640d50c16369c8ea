import type { Express } from 'express';
import request from 'supertest';
import { TEST_API_KEY } from './test-environment';

/** supertest on the in-process app, each request carrying the test API key (or `key`; none for `null`). */
export function apiClient(app: Express, key: string | null = TEST_API_KEY) {
  const auth = (test: request.Test) => (key === null ? test : test.set('Authorization', `Bearer ${key}`));
  return {
    get: (url: string) => auth(request(app).get(url)),
    post: (url: string, body?: object) => auth(request(app).post(url)).send(body),
    put: (url: string, body?: object) => auth(request(app).put(url)).send(body),
    patch: (url: string, body?: object) => auth(request(app).patch(url)).send(body),
    delete: (url: string) => auth(request(app).delete(url)),
  };
}

export type ApiClient = ReturnType<typeof apiClient>;
