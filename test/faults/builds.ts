// Small, fast builds for the fault suite, sent the way the Action sends them.
// Every Dockerfile carries a nonce, so no two builds share a digest or a cache
// hit: COPY-only Linux builds on BuildKit from the bed's local base image,
// a few that sleep (to be running when something breaks), Windows builds on
// the emulated dockerd pool (a RUN sends them there), and multi-platform
// builds, which report a `…/manifest` index context too.
import { randomBytes } from "node:crypto";
import type { RecordedStatus } from "../github-standin/github-standin.js";
import type { Bed } from "../integration/harness.js";
import { buildRequest, ctx, postBuild, uploadContext } from "../integration/harness.js";
import { type AcceptedBuild, acceptedBuild } from "./promises.js";

export type BuildKind =
  | { kind: "linux-copy" }
  | { kind: "linux-sleep"; seconds: number }
  | { kind: "windows-run"; version: "ltsc2019" | "ltsc2022"; seconds?: number }
  /** linux/amd64 on BuildKit and windows/amd64:ltsc2022 on the dockerd pool, joined in one index. */
  | { kind: "multi-run" }
  /** linux/amd64 and windows/amd64:ltsc2022 both COPY-only on BuildKit from real Windows bases (passes registry.validatePlatform). */
  | { kind: "multi-copy" };

export function labelOf(build: BuildKind): string {
  switch (build.kind) {
    case "linux-copy":
      return "linux COPY";
    case "linux-sleep":
      return `linux RUN sleep ${build.seconds}`;
    case "windows-run":
      return `${build.version} dockerd RUN${build.seconds ? ` sleep ${build.seconds}` : ""}`;
    case "multi-run":
      return "linux+ltsc2022 index (RUN)";
    case "multi-copy":
      return "linux+ltsc2022 index (COPY)";
  }
}

/** A commit: 40 hex digits. Each push of a pull request is a new one. */
export function newSha(): string {
  return randomBytes(20).toString("hex");
}

export function dockerfileOf(bed: Bed, build: BuildKind, nonce: string): { files: Record<string, string>; platforms: string[] } {
  const base = bed.env.LINUX_BASE_IMAGE;
  switch (build.kind) {
    case "linux-copy":
      return { files: ctx(`FROM ${base}\nCOPY Dockerfile /faults-${nonce}\n`), platforms: ["linux/amd64"] };
    case "linux-sleep":
      return { files: ctx(`FROM ${base}\nRUN echo start ${nonce} && sleep ${build.seconds} && echo done\n`), platforms: ["linux/amd64"] };
    case "windows-run":
      return {
        files: ctx(`FROM ${base}\nRUN echo start ${nonce}${build.seconds ? ` && sleep ${build.seconds}` : ""} && echo done\n`),
        platforms: [`windows/amd64:${build.version}`],
      };
    case "multi-run":
      return { files: ctx(`FROM ${base}\nRUN echo start ${nonce} && echo done\n`), platforms: ["linux/amd64", "windows/amd64:ltsc2022"] };
    case "multi-copy":
      return {
        files: ctx(
          [`FROM ${bed.env.WINDOWS_BASE_IMAGE}:ltsc2022 AS base-windows`, `FROM ${base} AS base-linux`, "FROM base-${TARGETOS}", `COPY app.txt /faults-${nonce}.txt`, ""].join("\n"),
          { "app.txt": `${nonce}\n` },
        ),
        platforms: ["linux/amd64", "windows/amd64:ltsc2022"],
      };
  }
}

/** One build to send: what it is, its commit, and the nonce that makes it unique (and its idempotency key). */
export interface BuildToSend {
  index: number;
  build: BuildKind;
  sha: string;
  nonce: string;
}

export function buildToSend(scenario: string, index: number, build: BuildKind, sha: string): BuildToSend {
  return { index, build, sha, nonce: `${scenario}-${index}-${randomBytes(4).toString("hex")}` };
}

/**
 * Uploads the build's context and asks for it; the dispatcher must accept
 * it (202, or 200 for a request repeated with the same idempotency key, as
 * the Action repeats one that got no answer). `through` is the dispatcher
 * URL it goes to.
 */
export async function sendBuild(bed: Bed, through: string, scenario: string, { index, build, sha, nonce }: BuildToSend): Promise<AcceptedBuild> {
  const { files, platforms } = dockerfileOf(bed, build, nonce);
  const context = await uploadContext(through, files);
  const request = buildRequest(context, {
    sha,
    platforms,
    tags: [`${bed.env.REGISTRY}/faults/${scenario}-${index}:${nonce}`],
    idempotencyKey: `faults/${nonce}`,
  });
  const res = await postBuild(through, request);
  if (res.status !== 202 && res.status !== 200) throw new Error(`build ${index} (${labelOf(build)}) not accepted: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  return acceptedBuild(res.body, labelOf(build));
}

/**
 * For each build that ended failure or error on GitHub: its final status and
 * the last lines of its build log (as the dispatcher serves it), to tell a
 * build the fault broke from one the dispatcher mis-reported.
 */
export async function failedBuildTails(through: string, accepted: AcceptedBuild[], statuses: RecordedStatus[], lines = 3): Promise<string[]> {
  const out: string[] = [];
  for (const build of accepted) {
    const failed = statuses.filter((s) => s.target_url === build.targetUrl && (s.state === "failure" || s.state === "error"));
    if (failed.length === 0) continue;
    const text = await fetch(`${through}/v1/builds/${build.id}/logs`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.text(), (e: Error) => `(logs unavailable: ${e.message})`);
    const tail = text
      .split("\n")
      .filter(Boolean)
      .slice(-lines)
      .map((l) => {
        try {
          return String((JSON.parse(l) as { line?: string }).line ?? l);
        } catch {
          return l;
        }
      });
    out.push(`build ${build.id} (${build.label}): ${failed.map((s) => `${s.context} ${s.state} "${s.description ?? ""}"`).join("; ")}; log tail: ${tail.join(" | ")}`);
  }
  return out;
}
