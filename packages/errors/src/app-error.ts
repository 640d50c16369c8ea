/** One refused field of a request, as problem+json lists it. */
export interface FieldError {
  /** Path of the field in the request, e.g. `channels[1]` or `query.limit`. */
  readonly field: string;
  readonly message: string;
}

export interface AppErrorOptions {
  readonly cause?: unknown;
  readonly errors?: readonly FieldError[];
  /** Extra response headers, e.g. `Retry-After`. */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * An error the client can act on: it carries the HTTP status, a stable problem type and a detail
 * that says what to fix. The API's error handler turns it into `application/problem+json`
 * (RFC 9457); anything that is not an AppError answers a bare 500.
 */
export class AppError extends Error {
  readonly errors: readonly FieldError[] | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    /** HTTP status. */
    readonly status: number,
    /** Stable problem identifier (kebab-case), published as the problem's `type`. */
    readonly type: string,
    /** Short summary, the same for every occurrence of the type. */
    readonly title: string,
    /** This occurrence: what happened and what to fix. */
    detail: string,
    options: AppErrorOptions = {},
  ) {
    super(detail, { cause: options.cause });
    this.name = new.target.name;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }

  get detail(): string {
    return this.message;
  }
}

export class ValidationError extends AppError {
  constructor(detail: string, errors: readonly FieldError[] = []) {
    super(400, 'validation-error', 'Your request is not valid', detail, { errors });
  }

  /** A validation error on one field, the detail naming it. */
  static forField(field: string, message: string): ValidationError {
    return new ValidationError(`${field} ${message}`, [{ field, message }]);
  }
}

export class UnauthorizedError extends AppError {
  constructor(detail: string) {
    super(401, 'unauthorized', 'Authentication required', detail, {
      headers: { 'WWW-Authenticate': 'Bearer realm="notofine"' },
    });
  }
}

export class NotFoundError extends AppError {
  constructor(resource: string, id?: number | string) {
    super(404, 'not-found', 'Resource not found', id === undefined ? `${resource} not found` : `${resource} ${id} does not exist`);
  }
}

export class ConflictError extends AppError {
  constructor(detail: string) {
    super(409, 'conflict', 'Conflict with the current state', detail);
  }
}

/** The request is well-formed but cannot be carried out as asked (e.g. a channel the user cannot be reached on). */
export class UnprocessableError extends AppError {
  constructor(type: string, title: string, detail: string, errors?: readonly FieldError[]) {
    super(422, type, title, detail, { errors });
  }
}

/** A dependency (database, queue) is down; the client may retry after `retryAfterSeconds`. */
export class ServiceUnavailableError extends AppError {
  constructor(detail: string, options: { cause?: unknown; retryAfterSeconds?: number } = {}) {
    super(503, 'service-unavailable', 'Service temporarily unavailable', detail, {
      cause: options.cause,
      headers: { 'Retry-After': String(options.retryAfterSeconds ?? 5) },
    });
  }
}
