import type { V1Job } from "@kubernetes/client-node";
import type { Config } from "../config/schema.js";
import type { BuildPlan } from "./build-plan.js";
import { buildkitJob } from "./buildkit-job.js";
import { dockerJob, missingDockerPool } from "./docker-job.js";
import { windowsBuildkitJob } from "./windows-buildkit-job.js";
import { RequestError } from "../protocol/errors.js";

/** One Job per platform, in the order the request listed the platforms. */
export function jobManifests(plan: BuildPlan, config: Config): V1Job[] {
  // The policy grants each repository its registry Secret; the Job builders read it from the config.
  if (plan.registrySecret !== undefined) {
    config = { ...config, registry: { ...config.registry, secretName: plan.registrySecret ?? undefined } };
  }
  const problem = missingDockerPool(plan, config);
  if (problem) throw new RequestError(problem, 422);
  const jobOf = { docker: dockerJob, buildkit: buildkitJob, "buildkit-windows": windowsBuildkitJob } as const;
  return plan.platforms.map((platformPlan) => jobOf[platformPlan.builder](plan, platformPlan, config));
}
