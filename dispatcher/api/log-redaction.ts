// What the dispatcher's logs must never hold: credentials in headers (never
// logged by Fastify, redacted here in case anything logs them), the signature
// of a signed context URL (a capability to download that context, and part
// of every "incoming request" line's url), tokens and secrets in any object
// handed to the logger.

import type { Logger } from "pino";

const secretQueryParameters = /([?&](?:sig|token|access_token)=)[^&#]*/gi;

export function redactUrl(url: string): string {
  return url.replace(secretQueryParameters, "$1[redacted]");
}

const redactPaths = [
  "req.headers.authorization",
  'req.headers["x-hub-signature-256"]',
  "headers.authorization",
  'headers["x-hub-signature-256"]',
  "authorization",
  "githubToken",
  "*.githubToken",
  "token",
  "*.token",
  "secret",
  "*.secret",
  // A build request's BuildKit secrets (id → value), wherever a request or its body is logged.
  "secrets",
  "*.secrets",
  "*.*.secrets",
  "signingKey",
  "*.signingKey",
  "privateKey",
  "*.privateKey",
];

/** A child of `logger` whose request lines carry a redacted url and that censors credential fields. */
export function redactingLogger(logger: Logger): Logger {
  return logger.child(
    {},
    {
      redact: { paths: redactPaths, censor: "[redacted]" },
      serializers: {
        req: (request: { method?: string; url?: string; host?: string; hostname?: string; ip?: string; socket?: { remoteAddress?: string } }) => ({
          method: request.method,
          url: redactUrl(String(request.url ?? "")),
          host: request.host ?? request.hostname,
          remoteAddress: request.ip ?? request.socket?.remoteAddress,
        }),
      },
    },
  );
}
