// In front of the GitHub stand-in: answers GET /repos/{owner}/{repo}/pulls/{n}
// from a table the test sets (where each pull request's head lives, as
// GitHub's API reports it) and passes every other request through to the
// stand-in, which checks it against GitHub's OpenAPI description.

import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";

export interface GitHubFront {
  url: string;
  /** "owner/repo#n" → head repository full name (null: the fork was deleted). */
  pulls: Map<string, string | null>;
  /** "owner/repo#n" → head commit (default 40 zeros). */
  heads: Map<string, string>;
  /** Pull request lookups received. */
  lookups(): string[];
  close(): Promise<void>;
}

export async function startGitHubFront(standInUrl: string): Promise<GitHubFront> {
  const pulls = new Map<string, string | null>();
  const heads = new Map<string, string>();
  const seen: string[] = [];
  const upstream = new URL(standInUrl);
  const server = createServer((req, res) => {
    const match = /^\/repos\/([^/]+\/[^/]+)\/pulls\/([0-9]+)$/.exec(req.url ?? "");
    if (req.method === "GET" && match) {
      const key = `${match[1]}#${match[2]}`;
      seen.push(key);
      if (!pulls.has(key)) {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ message: "Not Found" }));
        return;
      }
      const head = pulls.get(key);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ number: Number(match[2]), state: "open", head: { ref: "feature", sha: heads.get(key) ?? "0".repeat(40), repo: head === null ? null : { full_name: head, fork: head !== match[1] } }, base: { ref: "main", repo: { full_name: match[1] } } }));
      return;
    }
    const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on("error", () => res.writeHead(502).end());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    pulls,
    heads,
    lookups: () => [...seen],
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
