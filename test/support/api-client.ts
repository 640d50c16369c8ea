import type { Express } from 'express';
import request from 'supertest';
import { documented } from './openapi-conformance';
import { TEST_API_KEY } from './test-environment';

/**
 * supertest on the in-process app, each request carrying the test API key (or `key`; none for
 * `null`), and each response checked against the OpenAPI document (see openapi-conformance.ts).
 */
export function apiClient(app: Express, key: string | null = TEST_API_KEY) {
  const auth = (test: request.Test) => (key === null ? test : test.set('Authorization', `Bearer ${key}`));
  return {
    get: (url: string) => documented(auth(request(app).get(url))),
    post: (url: string, body?: object) => documented(auth(request(app).post(url)).send(body), body),
    put: (url: string, body?: object) => documented(auth(request(app).put(url)).send(body), body),
    patch: (url: string, body?: object) => documented(auth(request(app).patch(url)).send(body), body),
    delete: (url: string) => documented(auth(request(app).delete(url))),
  };
}

export type ApiClient = ReturnType<typeof apiClient>;
