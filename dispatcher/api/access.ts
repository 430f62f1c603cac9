// Who may call which route, in one place: every request passes this hook
// before its handler. Mutating routes need a credential (dispatcher/auth/);
// reads of a build need its id, or a credential for its repository when
// auth.buildReads is "authenticated"; a route not listed here that changes
// anything needs a credential too, so a new route is closed until opened.
//
//   open           /healthz /readyz /metrics /openapi.json, HEAD /v1/contexts/{sha256}
//   signed URL     GET /v1/contexts/{sha256}/download (checked by its route: build, digest, expiry)
//   webhook        POST /webhooks/github (GitHub's signature, checked by its route)
//   build read     GET /v1/builds/{id}[/…]: the id, or credentials (auth.buildReads)
//   build list     GET /v1/builds (JSON and the builds page): credentials, or nothing (auth.buildList: open)
//   authenticated  everything else: PUT /v1/contexts, POST /v1/builds, DELETE /v1/builds/{id}

import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Authenticator } from "../auth/authenticate.js";
import { type Identity, describeIdentity, identityCovers } from "../auth/identity.js";
import { signatureHeader } from "../protocol/request-signature.js";
import { RequestError } from "../protocol/errors.js";
import type { LiveConfig } from "../config/live-config.js";
import type { Executor } from "../executor.js";
import { isBuildId } from "../plan/names.js";
import { PolicyDenial } from "../policy/denial.js";
import { authorizeRepository } from "../policy/repository-policy.js";
import { nestsDeeperThan } from "./json-depth.js";

declare module "fastify" {
  interface FastifyRequest {
    /** Set by the access hook on routes that authenticate. */
    identity?: Identity;
  }
}

export type Access = "open" | "own-check" | "build-read" | "build-list" | "authenticated";

export function accessOf(method: string, route: string | undefined): Access {
  if (route === undefined) return method === "GET" || method === "HEAD" ? "open" : "authenticated";
  if (["/healthz", "/readyz", "/metrics", "/openapi.json"].includes(route)) return "open";
  if (route === "/v1/contexts/:sha256/download" || route === "/webhooks/github") return "own-check";
  if (route === "/v1/contexts/:sha256" && method === "HEAD") return "open";
  if (route.startsWith("/v1/builds/:id") && (method === "GET" || method === "HEAD")) return "build-read";
  if (route === "/v1/builds" && method === "GET") return "build-list";
  if ((method === "GET" || method === "HEAD") && !route.startsWith("/v1/")) return "open";
  return "authenticated";
}

export interface AccessDeps {
  authenticator: Authenticator;
  live: LiveConfig;
  executor: Executor;
}

export function accessControl(app: FastifyInstance, deps: AccessDeps): void {
  const { authenticator, live, executor } = deps;
  app.decorateRequest("identity", undefined);

  app.addHook("preHandler", async (request) => {
    const access = accessOf(request.method, request.routeOptions.url);
    if (access === "open" || access === "own-check") return;
    if (access === "build-read" && live.current.auth.buildReads === "capability" && !live.current.auth.disabled) return;
    if (access === "build-list" && live.current.auth.buildList === "open") {
      // Whoever reaches it sees every build (auth.buildList: open, behind the operator's own sign-in).
      request.identity = { kind: "anonymous" };
      return;
    }

    const identity = await authenticator.authenticate({
      method: request.method,
      pathWithQuery: request.url,
      headers: request.headers,
      // Only a signature covers the body; an OIDC upload is still unread here and streams to the store after this check.
      bodySha256Hex: request.headers[signatureHeader] !== undefined ? bodyHash(request) : "",
    });
    request.identity = identity;
    request.log.info(describeIdentity(identity), "authenticated");

    const route = request.routeOptions.url ?? "";
    if (route === "/v1/contexts/:sha256" && identity.kind === "oidc") {
      // An upload costs disk: only repositories allowed to build may make one.
      authorizeRepository(identity, identity.repository, live.current.policy);
    }
    const id = (request.params as { id?: string } | undefined)?.id;
    if (route.startsWith("/v1/builds/:id") && id !== undefined && isBuildId(id)) {
      const build = await executor.get(id);
      if (build && !identityCovers(identity, build.repository)) {
        throw new PolicyDenial(access === "build-read" ? "auth.buildReads" : "auth.repository", {
          error: `id: build ${id} belongs to ${build.repository}, which these credentials may not act for`,
          field: "id",
          hint: `use credentials of ${build.repository} (its workflow's OIDC token, or a shared secret for it)`,
        });
      }
    }
  });
}

/**
 * The sha256 of the bytes received (request-body.ts). Every body a route
 * takes is read whole before this hook when the request is signed (JSON by
 * its parser, a signed context upload spooled by its own), so a hash still
 * missing is a bug, never a reason to check the signature over less.
 */
function bodyHash(request: FastifyRequest): string {
  if (request.bodySha256 !== undefined) return request.bodySha256;
  throw new Error(`${request.method} ${request.routeOptions.url}: the body was not read before its signature was checked`);
}

// A build request nests 2 levels (labels.KEY); GitHub's webhook payloads
// about 6. Far more is an attack on whatever walks the value, not a request.
export const maxJsonDepth = 32;

/**
 * Replaces Fastify's JSON parser with one that parses as Fastify does (the
 * bytes were hashed on their way in, request-body.ts), refusing
 * __proto__ and constructor keys, and bodies nested deeper than maxJsonDepth.
 */
export function hashingJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, body, done) => {
    const text = (body as Buffer).toString("utf8");
    parse(request, text, (error, value) => {
      if (error) return done(explainJsonError(error, text), undefined);
      if (nestsDeeperThan(value, maxJsonDepth)) {
        return done(
          new RequestError({
            error: `body: JSON nested more than ${maxJsonDepth} levels deep`,
            field: "body",
            hint: "send the build request as a flat JSON object (see GET /openapi.json)",
          }),
          undefined,
        );
      }
      done(null, value);
    });
  });
}

/**
 * Fastify's parser says only "Body is not valid JSON" for both a syntax error
 * and a __proto__/constructor key it refuses; the user needs to know which,
 * and where. JSON.parse tells them apart: it accepts those keys.
 */
function explainJsonError(error: Error, text: string): Error {
  if ((error as { code?: string }).code !== "FST_ERR_CTP_INVALID_JSON_BODY") return error;
  try {
    JSON.parse(text);
  } catch (syntaxError) {
    return new RequestError({ error: `body: is not valid JSON (${(syntaxError as Error).message})`, field: "body", hint: "send the request as a JSON object" });
  }
  return new RequestError({ error: 'body: has a "__proto__" or "constructor" key', field: "body", hint: "remove it; no field of a request is named so" });
}
