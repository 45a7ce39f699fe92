import fp from 'fastify-plugin';

/**
 * One JSON line per request, written when the response is sent (Fastify's own logging writes two:
 * "incoming request" and "request completed"). `reqId` is the upstream proxy's `X-Request-Id`
 * when there is one (nginx's `$request_id`), so a request can be followed across both logs.
 * Never headers or bodies: tokens, cookies and passwords travel there. An accepted WebSocket
 * upgrade has no response; the terminal socket logs its own open and close lines.
 */
export default fp(
  async (app) => {
    app.addHook('onResponse', async (request, reply) => {
      const status = reply.statusCode;
      // Flat fields: pino's `req`/`res` serializers expect Node request objects.
      const line = {
        method: request.method,
        url: request.url,
        statusCode: status,
        responseTime: Math.round(reply.elapsedTime * 10) / 10,
        ip: request.ip,
        ...(request.auth ? { userId: request.auth.userId } : {}),
      };
      if (status >= 500) request.log.error(line, 'request');
      else request.log.info(line, 'request');
    });
  },
  { name: 'request-log', dependencies: ['config'] },
);
