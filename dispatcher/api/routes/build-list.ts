// GET /v1/builds: the builds a caller's credentials cover, filtered and paged
// (protocol/build-list.ts says how; model/build-list.ts picks the page). Same
// authentication as every other /v1/ route that is not one build's read.

import type { FastifyInstance } from "fastify";
import { type Identity, identityCovers } from "../../auth/identity.js";
import type { Config } from "../../config/schema.js";
import type { Executor } from "../../executor.js";
import { selectBuilds } from "../../model/build-list.js";
import { BuildListBodySchema, BuildListQuerySchema, type BuildListBody, parseBuildListQuery } from "../../protocol/build-list.js";
import type { BuildState, BuildStateBody } from "../../protocol/build-state.js";
import { ErrorSchema } from "../../protocol/error-body.js";
import { PolicyDenial } from "../../policy/denial.js";

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
    async (request): Promise<BuildListBody> => {
      const query = parseBuildListQuery(request.query as Record<string, unknown>);
      // The access hook authenticated every /v1/builds list request; auth.disabled is the anonymous identity.
      const identity = request.identity as Identity;
      if (query.repository !== undefined && !identityCovers(identity, query.repository)) {
        throw new PolicyDenial("auth.repository", {
          error: `query.repository: these credentials may not act for ${query.repository}`,
          field: "query.repository",
          hint: `use credentials of ${query.repository} (its workflow's OIDC token, or a shared secret for it), or leave repository out to list what these credentials cover`,
        });
      }
      const page = selectBuilds(await executor.list(), query, (repository) => identityCovers(identity, repository));
      return { builds: page.builds.map(present), ...(page.next ? { next: page.next } : {}) };
    },
  );
}
