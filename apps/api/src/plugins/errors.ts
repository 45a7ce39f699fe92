import { type ErrorBody, ErrorCode } from '@tether/protocol';
import type { FastifyError } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.js';

// Errors that mean "the database cannot answer right now" (unreachable, or too slow or locked
// past its timeouts), from postgres.js, PGlite and Node: 503 and close 1013, "try again later".
const DB_UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  '57014', // query_canceled: statement_timeout (DATABASE_STATEMENT_TIMEOUT)
  '55P03', // lock_not_available: lock_timeout (DATABASE_LOCK_TIMEOUT)
  '53300', // too_many_connections
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08001',
  '08003',
  '08006',
]);

export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && DB_UNAVAILABLE.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export function errorBody(code: string, message: string, extra: AppError['extra'] = {}): ErrorBody {
  return {
    error: {
      code,
      message,
      ...(extra.fields ? { fields: extra.fields } : {}),
      ...(extra.retryAfter !== undefined ? { retryAfter: extra.retryAfter } : {}),
    },
  };
}

/** One error shape for every route: `{ error: { code, message } }`; 5xx never leak details. */
export default fp(
  async (app) => {
    app.setErrorHandler((err: FastifyError | AppError, request, reply) => {
      if (err instanceof AppError) {
        if (err.extra.retryAfter !== undefined) reply.header('retry-after', String(err.extra.retryAfter));
        return reply.status(err.statusCode).send(errorBody(err.code, err.message, err.extra));
      }
      if (isDatabaseUnavailable(err)) {
        request.log.warn(
          { err: { message: err.message, code: (err as FastifyError).code } },
          'database unavailable',
        );
        reply.header('retry-after', '5');
        return reply
          .status(503)
          .send(errorBody(ErrorCode.SERVICE_UNAVAILABLE, 'The database is unavailable; try again shortly'));
      }
      const status = (err as FastifyError).statusCode ?? 500;
      if (status === 429) {
        return reply.status(429).send(
          errorBody(ErrorCode.RATE_LIMITED, 'Too many requests; slow down', {
            retryAfter: Number(reply.getHeader('retry-after')) || undefined,
          }),
        );
      }
      if (status === 413) {
        return reply.status(413).send(errorBody(ErrorCode.PAYLOAD_TOO_LARGE, 'Request body too large'));
      }
      if (status >= 400 && status < 500) {
        // Fastify's own client errors (malformed JSON, wrong content type): safe to describe.
        return reply.status(status).send(errorBody(ErrorCode.BAD_REQUEST, err.message));
      }
      request.log.error({ err }, 'unhandled error');
      return reply.status(500).send(errorBody(ErrorCode.INTERNAL, 'Internal server error'));
    });

    app.setNotFoundHandler((request, reply) => {
      if (app.spaFallback?.(request, reply)) return;
      reply
        .status(404)
        .send(errorBody(ErrorCode.NOT_FOUND, `No route for ${request.method} ${request.url.split('?')[0]}`));
    });
  },
  { name: 'errors' },
);
