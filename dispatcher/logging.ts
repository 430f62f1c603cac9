// Structured logs: every line that concerns a build carries its id as
// `buildId`, so `jq 'select(.buildId=="…")'` (or a log store's filter) shows
// one build's whole story: its requests, the reconciler's decisions, the
// executor's steps.

import type { FastifyInstance } from "fastify";
import { isBuildId } from "./plan/names.js";

/** A logger that takes structured fields first, as pino's does. */
export interface FieldLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  child?(bindings: Record<string, unknown>): FieldLogger;
}

/** The logger for lines about one build: a pino child bound to {buildId}, or the fields added by hand for plain loggers. */
export function buildLogger<L extends FieldLogger>(log: L, buildId: string | undefined): FieldLogger {
  if (!buildId) return log;
  if (log.child) return log.child({ buildId });
  return {
    info: (fields, message) => log.info({ buildId, ...fields }, message),
    warn: (fields, message) => log.warn({ buildId, ...fields }, message),
    error: (fields, message) => log.error({ buildId, ...fields }, message),
  };
}

/** `dh-<buildId>-<slug>`: the build a Job (or its pod) belongs to. */
export function buildIdOfJob(jobName: string | undefined): string | undefined {
  const id = /^dh-([a-z][a-z2-7]{11})-/.exec(jobName ?? "")?.[1];
  return id && isBuildId(id) ? id : undefined;
}

/** The build a request concerns, from its URL alone: /v1/builds/{id}[/…], or a context download signed for a build. */
export function buildIdOfUrl(url: string | undefined): string | undefined {
  const path = /^\/v1\/builds\/([a-z][a-z2-7]{11})(?:[/?#]|$)/.exec(url ?? "")?.[1];
  if (path) return path;
  const query = /^\/v1\/contexts\/[^?]*\?(?:.*&)?build=([a-z][a-z2-7]{11})(?:&|$)/.exec(url ?? "")?.[1];
  return query && isBuildId(query) ? query : undefined;
}

/**
 * Binds buildId into each request's logger, so Fastify's own "incoming
 * request" and "request completed" lines carry it as well as the handler's.
 * For POST /v1/builds the id exists only once the build is planned: its
 * completion line gets it from the answer. Call before registering routes
 * (a route takes the child-logger factory in force when it is declared).
 */
export function logBuildRequests(app: FastifyInstance): void {
  app.setChildLoggerFactory((logger, bindings, options, rawRequest) => {
    const buildId = buildIdOfUrl(rawRequest.url);
    return logger.child(buildId ? { ...bindings, buildId } : bindings, options);
  });
  app.addHook("onSend", async (request, reply, payload) => {
    if (request.method === "POST" && request.routeOptions.url === "/v1/builds" && typeof payload === "string" && reply.statusCode < 300) {
      const id = /^\{"id":"([a-z][a-z2-7]{11})"/.exec(payload)?.[1];
      if (id) reply.log = reply.log.child({ buildId: id });
    }
    return payload;
  });
}

/**
 * A logger that adds buildId to any line naming a build's Job or pod
 * (`job`, `pod` fields) without one: a safety net for code that logs by Job
 * name, so no build line escapes a filter on buildId.
 */
export function tagBuildIds(log: FieldLogger, bound = false): FieldLogger {
  const tag = (fields: object): object => {
    if (bound || "buildId" in fields) return fields;
    const { job, pod } = fields as { job?: unknown; pod?: unknown };
    const buildId = buildIdOfJob(typeof job === "string" ? job : undefined) ?? buildIdOfJob(typeof pod === "string" ? pod : undefined);
    return buildId ? { buildId, ...fields } : fields;
  };
  return {
    info: (fields, message) => log.info(tag(fields), message),
    warn: (fields, message) => log.warn(tag(fields), message),
    error: (fields, message) => log.error(tag(fields), message),
    child: (bindings) => tagBuildIds(log.child ? log.child(bindings) : buildLogger(log, bindings.buildId as string | undefined), bound || "buildId" in bindings),
  };
}
