import type { Express } from 'express';
import request from 'supertest';
import { TEST_API_KEY } from './test-environment';

/** supertest on the in-process app, each request carrying the test API key. */
export function apiClient(app: Express, key: string = TEST_API_KEY) {
  const auth = `Bearer ${key}`;
  return {
    get: (url: string) => request(app).get(url).set('Authorization', auth),
    post: (url: string, body?: object) => request(app).post(url).set('Authorization', auth).send(body),
    put: (url: string, body?: object) => request(app).put(url).set('Authorization', auth).send(body),
    patch: (url: string, body?: object) => request(app).patch(url).set('Authorization', auth).send(body),
    delete: (url: string) => request(app).delete(url).set('Authorization', auth),
  };
}

export type ApiClient = ReturnType<typeof apiClient>;
