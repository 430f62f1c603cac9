import { createHash } from "node:crypto";
import { createAppAuth } from "@octokit/auth-app";
import Bottleneck from "bottleneck";
import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import { Octokit } from "@octokit/rest";
import { truncateDescription, type CommitState } from "../model/status-description.js";
import type { Shown } from "../model/status-report.js";

export type GitHubAuth =
  /** A PAT, a workflow's GITHUB_TOKEN, or a build's own githubToken. */
  | { kind: "token"; token: string }
  /** A GitHub App; the installation is looked up per repository. */
  | { kind: "app"; appId: number | string; privateKey: string };

export type GitHubApiErrorKind = "server-error" | "rate-limit" | "secondary-rate-limit" | "client-error" | "network";

/** One failed attempt of a GitHub API call (retried attempts report too). */
export interface GitHubApiErrorEvent {
  /** Method and route template, e.g. "POST /repos/{owner}/{repo}/statuses/{sha}": few values, fit for a metric label. */
  route: string;
  status: number | undefined;
  kind: GitHubApiErrorKind;
}

export interface StatusClientOptions {
  auth: GitHubAuth;
  /** https://api.github.com (default), https://<host>/api/v3 for GHES, or a test stand-in. */
  baseUrl?: string;
  userAgent?: string;
  /** Called for every failed attempt, e.g. to count errors by kind in Prometheus. */
  onApiError?: (event: GitHubApiErrorEvent) => void;
  /** Retries of a 5xx or network failure (waits 1, 4, 9… × retryBaseMs). Default 3. */
  retries?: number;
  /** Retries after a rate-limit answer, each after the wait GitHub asks for. Default 2. */
  rateLimitRetries?: number;
  /**
   * A rate limit asking for a longer wait fails the call instead: the
   * reconciler reports again on its next pass, and a worker asleep for an
   * hour helps nobody. Default 120.
   */
  maxRateLimitWaitSeconds?: number;
  /** Milliseconds per unit of retry wait (GitHub's retry-after is in seconds). Default 1000; tests shrink it. */
  retryBaseMs?: number;
  /** Milliseconds between two status writes of one credential. Default 1000 (GitHub's best practices). */
  writeIntervalMs?: number;
}

export interface CommitStatusInput {
  /** "owner/name". */
  repository: string;
  /** 40 hex digits. */
  sha: string;
  state: CommitState;
  /** e.g. dockhand/windows-ltsc2022. */
  context: string;
  /** Cut to GitHub's 140-character limit; anything token-shaped is redacted first. */
  description: string;
  targetUrl?: string;
}

export interface WriteOptions {
  /**
   * Asked when the write's turn in its credential's queue comes: true drops
   * it unsent (a pending whose build was cancelled while it waited).
   */
  dropIf?: () => boolean;
}

export interface StatusClient {
  /** The created status's id; undefined when options.dropIf dropped it. */
  setCommitStatus(status: CommitStatusInput, options?: WriteOptions): Promise<{ id: number } | undefined>;
  /**
   * What GitHub shows as the build's newest status of this one's context on
   * the commit (the build is its target URL): exactly this status ("this":
   * sent just before a crash, before it was recorded), another ("build": e.g.
   * its pending), or nothing of it ("none").
   */
  shown(status: CommitStatusInput): Promise<Shown>;
}

const repositoryPattern = /^([A-Za-z0-9-]{1,39})\/([A-Za-z0-9._-]{1,100})$/;
const shaPattern = /^[0-9a-f]{40}$/;
const states: readonly CommitState[] = ["pending", "success", "failure", "error"];

// Token formats GitHub documents (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_), and
// JWTs (an App's): a description is public, so none of them may reach it, even
// from a build log line quoted in a failure reason.
const tokenShapes = /\b(?:gh[pousr]_[A-Za-z0-9_]{16,}|github_pat_[A-Za-z0-9_]{20,}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)/g;

export function createStatusClient(options: StatusClientOptions): StatusClient {
  const onApiError = options.onApiError ?? (() => undefined);
  const retryBaseMs = options.retryBaseMs ?? 1000;
  const rateLimitRetries = options.rateLimitRetries ?? 2;
  const maxWait = options.maxRateLimitWaitSeconds ?? 120;
  const secrets = options.auth.kind === "token" ? [options.auth.token] : [];

  const retryOnRateLimit = (retryAfter: number, _request: unknown, _octokit: unknown, retryCount: number): boolean =>
    retryCount < rateLimitRetries && retryAfter <= maxWait;

  // Plugins listed later wrap the earlier ones: the error reporter comes first
  // so it sits inside the retry loops and sees every attempt, not just the last.
  const StatusOctokit = Octokit.plugin(reportErrors(onApiError), retry, throttling);
  const common = {
    baseUrl: options.baseUrl ?? "https://api.github.com",
    userAgent: options.userAgent ?? "dockhand-dispatcher",
    // Octokit logs failed requests at error level; the caller reports them through onApiError instead.
    log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    retry: {
      retries: options.retries ?? 3,
      // Rate limits (403/429) are the throttling plugin's, which waits as long as GitHub asks; other 4xx never change on retry.
      doNotRetry: [400, 401, 403, 404, 409, 410, 422, 429, 451],
      retryAfterBaseValue: retryBaseMs,
    },
    throttle: {
      onRateLimit: retryOnRateLimit,
      onSecondaryRateLimit: retryOnRateLimit,
      retryAfterBaseValue: retryBaseMs,
    },
  };

  // GitHub paces content-creating requests per user or App installation (its
  // best practices: one write a second, serially; its secondary limit: 80 a
  // minute). Each credential gets its own write queue (writeQueue below), so
  // one installation's statuses never wait behind another's, and within a
  // credential results go before pendings. The throttling plugin's own write
  // limiter, one FIFO for all writes of a throttle.id, is switched off for
  // that; its handling of rate-limit answers (retry-after, x-ratelimit-reset)
  // stays.
  const unpacedWrites = new Bottleneck.Group({ maxConcurrent: null, minTime: 0 });
  const throttled = (limiter: string) => ({ ...common, throttle: { ...common.throttle, id: `dockhand-${limiter}`, write: unpacedWrites } });
  const writeQueue = () => new Bottleneck({ maxConcurrent: 1, minTime: options.writeIntervalMs ?? 1000 });
  /** Per write queue: when a rate limit GitHub answered (after the plugin's retries) lifts. */
  const blockedUntil = new WeakMap<Bottleneck, number>();

  let clientFor: (owner: string, repo: string) => Promise<{ octokit: Octokit; writes: Bottleneck; forget(): void }>;
  if (options.auth.kind === "token") {
    const tokenId = createHash("sha256").update(options.auth.token).digest("hex").slice(0, 16);
    const octokit = new StatusOctokit({ ...throttled(`token-${tokenId}`), auth: options.auth.token });
    const writes = writeQueue();
    clientFor = async () => ({ octokit, writes, forget: () => undefined });
  } else {
    const appOctokit = new StatusOctokit({
      ...throttled(`app-${options.auth.appId}`),
      authStrategy: createAppAuth,
      auth: { appId: options.auth.appId, privateKey: options.auth.privateKey },
    });
    // Installations rarely change, so the lookup is cached per repository; a
    // failed status call forgets it, in case the App was reinstalled under a
    // new id. Tokens are cached (and renewed before expiry) by auth-app.
    const installations = new Map<string, Promise<number>>();
    const installationClients = new Map<number, Octokit>();
    // Kept when a client is forgotten: the pace belongs to the installation.
    const installationWrites = new Map<number, Bottleneck>();
    clientFor = async (owner, repo) => {
      const key = `${owner}/${repo}`.toLowerCase();
      let installationId = installations.get(key);
      if (installationId === undefined) {
        installationId = appOctokit.rest.apps.getRepoInstallation({ owner, repo }).then((response) => response.data.id);
        installations.set(key, installationId);
        installationId.catch(() => installations.delete(key));
      }
      const id = await installationId;
      let octokit = installationClients.get(id);
      if (octokit === undefined) {
        octokit = await appOctokit.auth({
          type: "installation",
          installationId: id,
          factory: (auth: Record<string, unknown>) => new StatusOctokit({ ...throttled(`installation-${id}`), authStrategy: createAppAuth, auth }),
        }) as Octokit;
        installationClients.set(id, octokit);
      }
      let writes = installationWrites.get(id);
      if (writes === undefined) {
        writes = writeQueue();
        installationWrites.set(id, writes);
      }
      return {
        octokit,
        writes,
        forget: () => {
          installations.delete(key);
          installationClients.delete(id);
        },
      };
    };
  }

  return {
    async setCommitStatus(status, writeOptions = {}) {
      const { owner, repo } = checkInput(status);
      const { octokit, writes, forget } = await clientFor(owner, repo);
      const resumeAt = blockedUntil.get(writes) ?? 0;
      if (Date.now() < resumeAt) {
        // Asking again before GitHub's limit resets only extends a secondary limit.
        throw Object.assign(new Error(`GitHub's rate limit for this credential holds status writes until ${new Date(resumeAt).toISOString()}`), { status: 429 });
      }
      try {
        // A result is what a pull request waits for: it goes ahead of
        // queued pendings of the same credential (Bottleneck: lower first).
        const priority = status.state === "pending" ? 7 : 3;
        const response = await writes.schedule({ priority }, async () => writeOptions.dropIf?.() ? undefined : octokit.rest.repos.createCommitStatus({
          owner,
          repo,
          sha: status.sha,
          state: status.state,
          context: status.context,
          description: sentDescription(status.description),
          ...(status.targetUrl === undefined ? {} : { target_url: status.targetUrl }),
        }));
        return response === undefined ? undefined : { id: response.data.id };
      } catch (error) {
        const code = (error as { status?: number }).status;
        if (code === 401 || code === 404) forget();
        const until = rateLimitedUntil(error, Date.now(), retryBaseMs);
        if (until !== undefined) blockedUntil.set(writes, until);
        throw error;
      }
    },

    async shown(status) {
      const { owner, repo } = checkInput(status);
      const { octokit } = await clientFor(owner, repo);
      // Newest first (GitHub's order); the status in question is among the
      // newest of its commit, so one page settles it.
      const response = await octokit.rest.repos.listCommitStatusesForRef({ owner, repo, ref: status.sha, per_page: 100 });
      // The build's own newest status of the context (its target URL names
      // the build): two builds of one commit may share a context.
      const newest = response.data.find((shown) => shown.context === status.context && (shown.target_url ?? undefined) === status.targetUrl);
      if (newest === undefined) return "none";
      return newest.state === status.state && (newest.description ?? "") === sentDescription(status.description) ? "this" : "build";
    },
  };

  function sentDescription(description: string): string {
    return truncateDescription(redactSecrets(description, secrets));
  }
}

/** Replaces token-shaped strings and the given secrets with "[redacted]". */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let redacted = text;
  for (const secret of secrets) if (secret.length >= 8) redacted = redacted.split(secret).join("[redacted]");
  return redacted.replace(tokenShapes, "[redacted]");
}

function checkInput(status: CommitStatusInput): { owner: string; repo: string } {
  const match = repositoryPattern.exec(status.repository);
  if (match === null) throw new Error(`repository ${JSON.stringify(status.repository)} is not "owner/name"`);
  if (!shaPattern.test(status.sha)) throw new Error(`sha ${JSON.stringify(status.sha)} is not 40 lowercase hex digits`);
  if (!states.includes(status.state)) throw new Error(`state ${JSON.stringify(status.state)} is not one of ${states.join(", ")}`);
  if (status.context.trim() === "") throw new Error("context is empty");
  if (status.targetUrl !== undefined && !/^https?:\/\//.test(status.targetUrl)) {
    throw new Error(`targetUrl ${JSON.stringify(status.targetUrl)} is not an http(s) URL`);
  }
  return { owner: match[1]!, repo: match[2]! };
}

/**
 * When a rate-limit answer lets writes resume: its retry-after (seconds, in
 * retryBaseMs units), else its x-ratelimit-reset (epoch seconds) when the
 * primary limit is used up. Undefined for any other error.
 */
export function rateLimitedUntil(error: unknown, nowMs: number, retryBaseMs = 1000): number | undefined {
  const failure = error as { status?: number; response?: { headers?: Record<string, string | undefined> } };
  if (failure.status !== 403 && failure.status !== 429) return undefined;
  const headers = failure.response?.headers ?? {};
  const retryAfter = Number(headers["retry-after"]);
  if (headers["retry-after"] !== undefined && Number.isFinite(retryAfter)) return nowMs + retryAfter * retryBaseMs;
  const reset = Number(headers["x-ratelimit-reset"]);
  if (headers["x-ratelimit-remaining"] === "0" && Number.isFinite(reset)) return Math.max(reset * 1000, nowMs);
  return undefined;
}

function reportErrors(onApiError: (event: GitHubApiErrorEvent) => void) {
  return (octokit: Pick<Octokit, "hook">) => {
    octokit.hook.error("request", (error, options) => {
      const failure = error as { status?: number; message?: string; response?: { headers?: Record<string, string | undefined> } };
      const status = typeof failure.status === "number" && failure.status > 0 ? failure.status : undefined;
      try {
        onApiError({ route: `${options.method} ${options.url}`, status, kind: classify(status, failure) });
      } catch {
        // A broken metrics callback must not turn into a failed status.
      }
      throw error;
    });
  };
}

function classify(
  status: number | undefined,
  failure: { message?: string; response?: { headers?: Record<string, string | undefined> } },
): GitHubApiErrorKind {
  if (status === undefined) return "network";
  if (status >= 500) return "server-error";
  if (status === 403 || status === 429) {
    if (/\bsecondary rate\b/i.test(failure.message ?? "")) return "secondary-rate-limit";
    if (failure.response?.headers?.["x-ratelimit-remaining"] === "0") return "rate-limit";
  }
  return "client-error";
}
