// GET /v1/builds: the builds a caller's credentials cover, filtered and paged
// (protocol/build-list.ts says how; model/build-list.ts picks the page), as
// JSON, or in a browser as the builds page (content negotiation, as the
// build page does at GET /v1/builds/{id}). Credentials as every other write,
// or none with auth.buildList: open (api/access.ts).

import type { FastifyInstance, FastifyRequest } from "fastify";
import { randomBytes } from "node:crypto";
import { type Identity, identityCovers } from "../../auth/identity.js";
import type { Config } from "../../config/schema.js";
import type { Executor } from "../../executor.js";
import { selectBuilds } from "../../model/build-list.js";
import { BuildListBodySchema, BuildListQuerySchema, type BuildListBody, parseBuildListQuery } from "../../protocol/build-list.js";
import type { BuildState, BuildStateBody } from "../../protocol/build-state.js";
import { ErrorSchema } from "../../protocol/error-body.js";
import { PolicyDenial } from "../../policy/denial.js";
import { listPagePolicy, renderBuildsPage } from "../build-page/builds-list-page.js";

export interface BuildListDeps {
  config: Config;
  executor: Executor;
}

export function buildListRoutes(app: FastifyInstance, deps: BuildListDeps): void {
  const { config, executor } = deps;
  const present = (build: BuildState): BuildStateBody => ({
    ...build,
    url: `${config.publicUrl}/v1/builds/${build.id}`,
    logsUrl: `${config.publicUrl}/v1/builds/${build.id}/logs`,
  });

  app.get(
    "/v1/builds",
    {
      schema: {
        summary: "Builds these credentials cover, newest first, filtered and paged",
        security: [{ oidc: [] }, { sharedSecret: [] }],
        querystring: BuildListQuerySchema,
        response: { 200: BuildListBodySchema, "4xx": ErrorSchema },
      },
      // The schema documents the query; parseBuildListQuery checks it, so an
      // unknown or misspelt filter is an error that names it, not dropped.
      validatorCompiler: () => () => true,
    },
    async (request, reply): Promise<BuildListBody> => {
      const page = await pageFor(request, executor);
      reply.header("vary", "Accept");
      return { builds: page.builds.map(present), ...(page.next ? { next: page.next } : {}) };
    },
  );
}

/** The builds page; registered after the build page's routes, whose "buildPage" constraint it shares. */
export function buildsPageRoute(app: FastifyInstance, deps: BuildListDeps): void {
  app.get("/v1/builds", { constraints: { buildPage: "html" }, schema: { hide: true }, validatorCompiler: () => () => true }, async (request, reply) => {
    const page = await pageFor(request, deps.executor);
    const nonce = randomBytes(16).toString("base64");
    reply.header("content-security-policy", listPagePolicy(nonce)).header("cache-control", "no-store").header("x-content-type-options", "nosniff").header("vary", "Accept");
    const raw = Object.fromEntries(Object.entries(request.query as Record<string, unknown>).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
    return reply.type("text/html; charset=utf-8").send(renderBuildsPage({ builds: page.builds, query: page.query, raw, next: page.next, now: new Date(), nonce }));
  });
}

async function pageFor(request: FastifyRequest, executor: Executor) {
  // A form leaves empty fields in the query: they filter nothing.
  const given = Object.fromEntries(Object.entries(request.query as Record<string, unknown>).filter(([, value]) => value !== ""));
  const query = parseBuildListQuery(given);
  // The access hook set the identity: the caller's, or anonymous (auth.disabled, or auth.buildList: open).
  const identity = request.identity as Identity;
  if (query.repository !== undefined && !identityCovers(identity, query.repository)) {
    throw new PolicyDenial("auth.repository", {
      error: `query.repository: these credentials may not act for ${query.repository}`,
      field: "query.repository",
      hint: `use credentials of ${query.repository} (its workflow's OIDC token, or a shared secret for it), or leave repository out to list what these credentials cover`,
    });
  }
  const page = selectBuilds(await executor.list(), query, (repository) => identityCovers(identity, repository));
  return { ...page, query };
}
