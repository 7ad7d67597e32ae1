/** Extra members of a problem+json body (e.g. the offending `field`). */
export type ProblemExtensions = Record<string, string | number | boolean | null>;

export interface AppErrorOptions {
  status: number;
  /** Stable, machine-readable; becomes the problem `type` URI. */
  code: string;
  title: string;
  detail: string;
  headers?: Record<string, string>;
  extensions?: ProblemExtensions;
  cause?: unknown;
}

/**
 * The one error class of the platform: the problem handler turns it into RFC 9457
 * problem+json. Anything else thrown becomes a generic 500 whose details stay in the logs.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  readonly headers: Record<string, string>;
  readonly extensions: ProblemExtensions;

  constructor(options: AppErrorOptions) {
    super(options.detail, { cause: options.cause });
    this.name = 'AppError';
    this.status = options.status;
    this.code = options.code;
    this.title = options.title;
    this.detail = options.detail;
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }
}

/** 400 for a bad query/path parameter; the detail and `field` name it. */
export function invalidParameter(field: string, detail: string): AppError {
  return new AppError({
    status: 400,
    code: 'invalid-parameter',
    title: 'Invalid request parameter',
    detail: `${field}: ${detail}`,
    extensions: { field },
  });
}

export function notFound(detail: string): AppError {
  return new AppError({ status: 404, code: 'not-found', title: 'Not found', detail });
}

/** The problem `type` URI for a code. */
export function problemType(code: string): string {
  return `urn:failway:problem:${code}`;
}
