// Is a pull request build's code from a fork? GitHub's OIDC claims say a run
// is for a pull request (event_name, ref refs/pull/<n>/merge) but not where
// its head branch lives: there is no head-repository claim
// (https://docs.github.com/actions/reference/security/oidc). GitHub withholds
// id-token: write from fork pull requests of public repositories, but a
// private repository can send write tokens to forks, and pull_request_target
// runs with the base repository's identity whatever the head. So the head
// repository is asked of GitHub itself: GET /repos/{repo}/pulls/{n}. The
// answer comes from GitHub, so it is trustworthy whichever token asked.

import { createAppAuth } from "@octokit/auth-app";
import { Octokit } from "@octokit/rest";
import type { HeadRepository } from "../policy/repository-policy.js";

export interface PullRequestOriginOptions {
  apiUrl: string;
  /** The dispatcher's own credentials (github.token or github.app), preferred. */
  token?: string;
  app?: { appId: number; privateKey: string; installationId?: number };
  /** Answers are kept this long (a pull request's head repository never changes). */
  cacheSeconds?: number;
}

export class PullRequestOrigins {
  private readonly cache = new Map<string, { headRepository: string | null; headSha: string | undefined; until: number }>();
  private readonly app: Octokit | undefined;

  constructor(private readonly options: PullRequestOriginOptions) {
    this.app = options.app
      ? new Octokit({ baseUrl: options.apiUrl, authStrategy: createAppAuth, auth: { appId: options.app.appId, privateKey: options.app.privateKey } })
      : undefined;
  }

  /**
   * `fallbackToken`: the build's own githubToken, used when the dispatcher has
   * no credentials. `headSha`: the commit the caller expects as head; a cached
   * answer naming another head is asked again (the head moves, its repository
   * does not).
   */
  async headRepository(repository: string, number: number, fallbackToken?: string, headSha?: string): Promise<HeadRepository> {
    const key = `${repository.toLowerCase()}#${number}`;
    const cached = this.cache.get(key);
    if (cached && cached.until > Date.now() && (headSha === undefined || cached.headSha === headSha)) {
      return { known: true, headRepository: cached.headRepository, headSha: cached.headSha };
    }
    let token: string | undefined;
    try {
      token = (await this.installationToken(repository)) ?? this.options.token ?? fallbackToken;
    } catch (err) {
      return { known: false, reason: `the GitHub App cannot read ${repository}: ${(err as Error).message}` };
    }
    let res: Response;
    try {
      res = await fetch(`${this.options.apiUrl}/repos/${repository}/pulls/${number}`, {
        headers: {
          accept: "application/vnd.github+json",
          "x-github-api-version": "2022-11-28",
          "user-agent": "dockhand-dispatcher",
          ...(token ? { authorization: `token ${token}` } : {}),
        },
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      return { known: false, reason: `GitHub did not answer (${(err as Error).message})` };
    }
    if (!res.ok) return { known: false, reason: `GitHub answered ${res.status} for pull request #${number} of ${repository}` };
    const body = (await res.json()) as { head?: { sha?: string; repo?: { full_name?: string } | null } };
    const headRepository = body.head?.repo?.full_name ?? null;
    const currentHead = typeof body.head?.sha === "string" ? body.head.sha : undefined;
    this.cache.set(key, { headRepository, headSha: currentHead, until: Date.now() + (this.options.cacheSeconds ?? 600) * 1000 });
    return { known: true, headRepository, headSha: currentHead };
  }

  private async installationToken(repository: string): Promise<string | undefined> {
    if (!this.app || !this.options.app) return undefined;
    let installationId = this.options.app.installationId;
    if (installationId === undefined) {
      const [owner, repo] = repository.split("/") as [string, string];
      installationId = (await this.app.rest.apps.getRepoInstallation({ owner, repo })).data.id;
    }
    const { token } = (await this.app.auth({ type: "installation", installationId })) as { token: string };
    return token;
  }
}
