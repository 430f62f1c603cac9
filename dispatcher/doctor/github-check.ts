// GitHub, without leaving a status behind: whether the dispatcher's
// credential can write commit statuses to a named repository, asked through
// GET endpoints and, for an App, an installation token requested with exactly
// that permission (GitHub refuses a token for permissions the installation
// lacks, with 422). And whether the webhook secret is set.

import { createAppAuth } from "@octokit/auth-app";
import { Octokit } from "@octokit/rest";
import type { Config } from "../config/schema.js";
import { type CheckResult, fail, ok, skip } from "./check.js";

const name = "github: statuses";

/** `--repository owner/name`, or the first repository the policy names without a wildcard. */
export function githubRepository(config: Config, option: string | undefined): string | undefined {
  return option ?? config.policy.repositories.map((rule) => rule.repository).find((repository) => !repository.includes("*"));
}

export function checkWebhookSecret(config: Config): CheckResult {
  if (config.webhooks.secret) return ok("github: webhook secret", "webhooks.secret is set: /webhooks/github verifies deliveries");
  return fail(
    "github: webhook secret",
    "webhooks.secret is not set: /webhooks/github refuses every delivery, so a closed pull request or a new push does not cancel its builds",
    'put webhook-secret="$(openssl rand -hex 32)" in the Secret dockhand-dispatcher (DOCKHAND_WEBHOOK_SECRET), and the same secret in the repository\'s or organisation\'s webhook (docs/deploy.md, "Secrets")',
  );
}

export async function checkGitHub(config: Config, repositoryOption: string | undefined, signal: AbortSignal): Promise<CheckResult[]> {
  const repository = githubRepository(config, repositoryOption);
  if (repository === undefined) {
    return [skip(name, "no repository to ask about: policy.repositories names none without a wildcard", "pass --repository owner/name (one dockhand builds for)")];
  }
  const [owner = "", repo = ""] = repository.split("/");
  const baseUrl = config.github.apiUrl;
  const request = { signal };
  const app = config.github.app;
  try {
    if (app?.privateKey !== undefined && app.appId !== undefined) {
      const octokit = new Octokit({ baseUrl, userAgent: "dockhand-doctor", authStrategy: createAppAuth, auth: { appId: app.appId, privateKey: app.privateKey }, request });
      const installation = app.installationId ?? (await octokit.rest.apps.getRepoInstallation({ owner, repo })).data.id;
      // Asked for statuses:write on this one repository: GitHub answers 422 if the installation does not have it.
      const token = await octokit.rest.apps.createInstallationAccessToken({ installation_id: installation, repositories: [repo], permissions: { statuses: "write" } });
      return [ok(name, `GitHub App ${app.appId}, installation ${installation}, gets statuses: ${token.data.permissions?.statuses ?? "?"} on ${repository} (a token was issued, no status written)`)];
    }
    if (config.github.token !== undefined) {
      const octokit = new Octokit({ baseUrl, userAgent: "dockhand-doctor", auth: config.github.token, request });
      const answer = await octokit.rest.repos.get({ owner, repo });
      // Classic tokens list their scopes; fine-grained ones do not, and GitHub
      // shows no way to read their statuses permission without writing one.
      const scopes = answer.headers["x-oauth-scopes"];
      if (typeof scopes === "string" && !/(^|,\s*)(repo|repo:status)(\s*,|$)/.test(scopes)) {
        return [fail(name, `the token's scopes are "${scopes}": no repo or repo:status`, "give the token the repo:status scope (classic) or Commit statuses: write (fine-grained), or use a GitHub App")];
      }
      if (answer.data.permissions?.push !== true) {
        return [fail(name, `the token's user may not write to ${repository} (permissions: ${JSON.stringify(answer.data.permissions ?? {})})`, `give the token's user write access to ${repository}, or use a GitHub App installed on it with Commit statuses: write`)];
      }
      return [ok(name, `the token sees ${repository} with write access${typeof scopes === "string" ? ` and scopes ${scopes}` : " (a fine-grained token's own Commit statuses permission is not readable without writing)"}; no status written`)];
    }
    return [fail(name, "no GitHub credential: github.token and github.app are both unset, so no build is ever reported", "put github-token, or github-app-id and github-app-private-key, in the Secret dockhand-dispatcher (docs/deploy.md, \"Secrets\")")];
  } catch (error) {
    const status = (error as { status?: number }).status;
    const message = error instanceof Error ? error.message : String(error);
    const fix =
      status === 401
        ? "the credential is wrong or expired: renew the token or the App's private key in the Secret dockhand-dispatcher"
        : status === 404
          ? `${repository} is not visible to this credential: install the App on it, or give the token access to it`
          : status === 422
            ? "the App lacks Commit statuses: write: add it in the App's settings and accept the new permission in the installation"
            : `can the dispatcher reach ${baseUrl}? (github.apiUrl; GitHub Enterprise: https://HOST/api/v3)`;
    return [fail(name, `${baseUrl}: ${status ? `HTTP ${status}: ` : ""}${message}`, fix)];
  }
}
