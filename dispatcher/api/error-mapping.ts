// Every user-facing error becomes `{ error, field, hint }` here, and only here.

import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { ContextError, type ContextErrorCode } from "../contexts/errors.js";
import { AuthenticationError } from "../auth/auth-error.js";
import { RequestError } from "../protocol/errors.js";
import { PolicyDenial } from "../policy/denial.js";
import { IdempotencyConflict } from "../executor.js";
import { apiMessage, apiStatus } from "../kube/api-errors.js";
import { hasBody } from "./request-body.js";

const contextStatus: Record<ContextErrorCode, number> = {
  "invalid-digest": 400,
  "digest-mismatch": 400,
  "incomplete-upload": 400,
  "too-large": 413,
  "not-found": 404,
  "invalid-path": 400,
  "file-not-found": 422,
  "file-too-large": 422,
  "invalid-archive": 422,
};

export interface ErrorBody {
  error: string;
  field: string;
  hint: string;
  /** For a policy denial: the config rule that denied it (policy.repositories[0].dockerPool). */
  rule?: string;
}

export function toHttpError(err: unknown): { status: number; body: ErrorBody; headers?: Record<string, string> } {
  if (err instanceof PolicyDenial) {
    return {
      status: err.status,
      body: { ...err.toBody(), rule: err.rule },
      ...(err.retryAfterSeconds !== undefined ? { headers: { "retry-after": String(err.retryAfterSeconds) } } : {}),
    };
  }
  if (err instanceof AuthenticationError) {
    // The reason names what is wrong with the credential, never the credential.
    return {
      status: err.status,
      body: { error: err.reason, field: err.header, hint: err.hint },
      headers: err.status === 401 ? { "www-authenticate": 'Bearer realm="dockhand"' } : { "retry-after": "10" },
    };
  }
  if (err instanceof RequestError) return { status: err.status, body: err.toBody() };
  if (err instanceof ContextError) {
    return {
      status: contextStatus[err.code],
      body: { error: err.message, field: err.code === "file-not-found" ? "file" : "context", hint: err.hint ?? "" },
    };
  }
  if (err instanceof IdempotencyConflict) {
    return {
      status: 409,
      body: {
        error: `idempotencyKey: already used for a different build request`,
        field: "idempotencyKey",
        hint: "send a new idempotency key for a changed request (the Action derives it from run id, attempt, job and step)",
      },
    };
  }
  const fastifyError = err as FastifyError;
  if (fastifyError?.validation) {
    const first = fastifyError.validation[0];
    const field = (first?.instancePath ?? "").replace(/^\//, "").replaceAll("/", ".") || String(first?.params?.missingProperty ?? "");
    return { status: 400, body: { error: `${field || "request"}: ${first?.message ?? "invalid"}`, field, hint: "see GET /openapi.json for the request format" } };
  }
  if (typeof fastifyError?.statusCode === "number" && fastifyError.statusCode < 500) {
    return { status: fastifyError.statusCode, body: bodyErrorBody(fastifyError) ?? { error: fastifyError.message, field: "", hint: "" } };
  }
  const kubeStatus = apiStatus(err);
  if (kubeStatus === 403) {
    return {
      status: 503,
      body: {
        error: `the dispatcher's ServiceAccount may not do this: ${apiMessage(err)}`,
        field: "",
        hint: "apply deploy/ again: its Role grants what the dispatcher needs",
      },
    };
  }
  return { status: 500, body: { error: "internal error; the dispatcher's log has the details", field: "", hint: "retry; report it if it persists" } };
}

/**
 * Fastify's own refusals of a body (too large, not JSON, wrong media type),
 * said the way every other error is: what, where, what to do.
 */
function bodyErrorBody(err: FastifyError): ErrorBody | undefined {
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return { error: "body: larger than the dispatcher accepts for a JSON request", field: "body", hint: "a build request is a few kilobytes: shorten labels, buildArgs or other long values" };
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return { error: `content-type: ${err.message}`, field: "content-type", hint: "send JSON as application/json, a context as application/gzip" };
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return { error: "body: is empty but content-type is application/json", field: "body", hint: "send the request as a JSON object" };
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return { error: "content-length: does not match the body sent", field: "content-length", hint: "send the whole body, with its exact length" };
  }
  return undefined;
}

export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body, headers } = toHttpError(err);
  if (status >= 500 && !(err instanceof AuthenticationError)) request.log.error({ err }, "request failed");
  else request.log.info({ status, field: body.field, ...(body.rule ? { rule: body.rule } : {}) }, body.error);
  if (headers) void reply.headers(headers);
  // The rest of a refused body (a bomb, an endless upload, a 415) is not worth
  // reading: close the connection instead of letting Node drain it to keep it alive.
  if (!request.raw.readableEnded && hasBody(request.headers)) void reply.header("connection", "close");
  void reply.code(status).send(body);
}
