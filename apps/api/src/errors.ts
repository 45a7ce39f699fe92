import { ErrorCode } from '@tether/protocol';

/** An error whose code and message are safe to show to the client. */
export class AppError extends Error {
  constructor(
    public readonly statusCode: number,
    public readonly code: ErrorCode,
    message: string,
    public readonly extra: {
      fields?: Record<string, string>;
      retryAfter?: number;
      details?: Record<string, string>;
    } = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export class UnauthorizedError extends AppError {
  constructor(code: ErrorCode = ErrorCode.UNAUTHENTICATED, message = 'Authentication required') {
    super(401, code, message);
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'You do not have permission to do that') {
    super(403, ErrorCode.FORBIDDEN, message);
  }
}

export class NotFoundError extends AppError {
  constructor(what = 'Resource') {
    super(404, ErrorCode.NOT_FOUND, `${what} not found`);
  }
}

export class ValidationError extends AppError {
  constructor(fields: Record<string, string>, message = 'Request validation failed') {
    super(400, ErrorCode.VALIDATION_FAILED, message, { fields });
  }
}

export class ServiceUnavailableError extends AppError {
  constructor(message = 'The service is temporarily unavailable; try again shortly') {
    super(503, ErrorCode.SERVICE_UNAVAILABLE, message);
  }
}
