import type { Response } from 'supertest';

/** A line of a stack trace, e.g. `at parseBody (/app/src/http/validation.ts:12:3)`. */
const STACK_LINE = /\bat .+:\d+:\d+/;
const SNAKE_CASE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

/** Every key of a JSON document, nested ones included, is snake_case. */
export function expectSnakeCaseKeys(value: unknown): void {
  expect(keysOf(value).filter((key) => !SNAKE_CASE.test(key))).toEqual([]);
}

/** The body reveals nothing of the server's insides: no stack line, no source path. */
export function expectNoStackTrace(response: Response): void {
  expect(response.text).not.toMatch(STACK_LINE);
  expect(response.text).not.toMatch(/node_modules|\.ts\b/);
  expect(response.body).not.toHaveProperty('stack');
}

/** An `application/problem+json` answer (RFC 9457) with this status, and this type when given. */
export function expectProblem(response: Response, status: number, type?: string): void {
  expect(response.status).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({
    type: type === undefined ? expect.stringMatching(/^\/problems\/[a-z-]+$/) : `/problems/${type}`,
    title: expect.any(String),
    status,
    detail: expect.any(String),
  });
  expectNoStackTrace(response);
}

/** A 400 validation problem whose `errors` list and detail both name the field. */
export function expectInvalidField(response: Response, field: string): void {
  expectProblem(response, 400, 'validation-error');
  expect(response.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field, message: expect.any(String) })]));
  expect(response.body.detail).toContain(field);
}

function keysOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(keysOf);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, nested]) => [key, ...keysOf(nested)]);
}
