import { createHash } from "node:crypto";
import type { Config } from "../config/schema.js";
import type { StatusReport, StatusReporter } from "../model/status-report.js";
import { createStatusClient, type GitHubApiErrorEvent, type StatusClient } from "./status-client.js";

export interface StatusReporterDeps {
  config: Config["github"];
  /** Reads a build's own GitHub token from its Secret. */
  readBuildToken: (secretName: string) => Promise<string | undefined>;
  onApiError?: (event: GitHubApiErrorEvent) => void;
  onReported?: (report: StatusReport) => void;
  /** Where statuses go when no credentials exist (a local run without GitHub). */
  logUnsent: (report: StatusReport) => void;
}

/**
 * Chooses the credentials for each status: the build's own token if it
 * brought one, else the dispatcher's App or token. Clients are kept per
 * credential so the throttling plugin spaces each one's writes.
 */
export function githubStatusReporter(deps: StatusReporterDeps): StatusReporter {
  const { config } = deps;
  const make = (auth: Parameters<typeof createStatusClient>[0]["auth"]) =>
    createStatusClient({ auth, baseUrl: config.apiUrl, userAgent: "dockhand-dispatcher", onApiError: deps.onApiError });
  const shared: StatusClient | undefined = config.app
    ? make({ kind: "app", appId: config.app.appId, privateKey: config.app.privateKey })
    : config.token
      ? make({ kind: "token", token: config.token })
      : undefined;
  // Keyed by a hash so the map never holds a token as a key someone might log.
  const perToken = new Map<string, StatusClient>();

  const clientFor = async (report: StatusReport): Promise<StatusClient | undefined> => {
    let client = shared;
    if (report.tokenSecret) {
      const token = await deps.readBuildToken(report.tokenSecret);
      if (token) {
        const key = createHash("sha256").update(token).digest("hex");
        client = perToken.get(key);
        if (!client) {
          if (perToken.size > 1000) perToken.clear();
          client = make({ kind: "token", token });
          perToken.set(key, client);
        }
      }
    }
    return client;
  };
  const input = (report: StatusReport) => ({
    repository: report.repository,
    sha: report.sha,
    state: report.state,
    context: report.context,
    description: report.description,
    targetUrl: report.targetUrl || undefined,
  });

  const reporter: StatusReporter = async (report) => {
    const client = await clientFor(report);
    if (!client) {
      deps.logUnsent(report);
      return;
    }
    const created = await client.setCommitStatus(input(report), { dropIf: report.dropIf });
    if (created === undefined) return "dropped";
    deps.onReported?.(report);
  };
  reporter.shown = async (report) => {
    const client = await clientFor(report);
    return client === undefined ? "build" : client.shown(input(report));
  };
  return reporter;
}
