// auth: oidc end to end. The runner's side of GitHub OIDC is an endpoint
// named by ACTIONS_ID_TOKEN_REQUEST_URL that hands a job granted
// `id-token: write` a JWT for the audience it asks (core.getIDToken); here it
// serves tokens from the local issuer (test/security/oidc-issuer.ts), which
// the dispatcher trusts through auth.oidc, with no shared secret configured.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../../dispatcher/config/validate.js";
import { type Dispatcher, startDispatcher } from "../../dispatcher/dispatcher.js";
import { type Bed, freePort, repository, setUpBed, sha } from "../integration/harness.js";
import { githubClaims, type LocalIssuer, startLocalIssuer } from "../security/oidc-issuer.js";
import { runStep, workspace } from "./runner-contract.js";

const audience = "https://dockhand.bed.example";
const requestToken = "runner-request-token";

let bed: Bed;
let issuer: LocalIssuer;
let dispatcher: Dispatcher;
let tokenEndpoint: Server;
let tokenUrl: string;
const askedAudiences: string[] = [];

beforeAll(async () => {
  bed = await setUpBed("dh-action-oidc");
  issuer = await startLocalIssuer({ audience, claims: githubClaims(repository, sha) });
  const port = await freePort();
  dispatcher = await startDispatcher(resolveConfig({ ...bed.rawConfig(port), auth: { oidc: { issuer: issuer.url, audience } } }, {}, "action-oidc"), {
    logger: pino({ level: process.env.DOCKHAND_TEST_LOG ?? "warn" }),
  });
  tokenEndpoint = createServer(async (req, res) => {
    const url = new URL(req.url ?? "", "http://x");
    if (req.headers.authorization !== `Bearer ${requestToken}`) return res.writeHead(401).end();
    const asked = url.searchParams.get("audience") ?? "";
    askedAudiences.push(asked);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ value: await issuer.token({ audience: asked }) }));
  });
  await new Promise<void>((resolve) => tokenEndpoint.listen(0, "127.0.0.1", resolve));
  // GitHub's URL carries a query already (api-version); core.getIDToken appends &audience=.
  tokenUrl = `http://127.0.0.1:${(tokenEndpoint.address() as AddressInfo).port}/token?api-version=2.0`;
});

afterAll(async () => {
  await new Promise((r) => tokenEndpoint?.close(r));
  await dispatcher?.close();
  await issuer?.close();
  await bed?.close();
});

describe("auth: oidc", () => {
  it("gets a token for the audience from the runner's endpoint and builds with it", async () => {
    const context = { workspace: workspace({ Dockerfile: `FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo built-with-oidc\n` }), runId: String(Date.now()), repository, sha };
    const result = await runStep(
      "main",
      { "dispatcher-url": dispatcher.url, audience, platforms: "linux/amd64" },
      context,
      {},
      { ACTIONS_ID_TOKEN_REQUEST_URL: tokenUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken },
    );
    expect(result.exitCode, result.stdout).toBe(0);
    expect(result.stdout).toContain("built-with-oidc");
    expect(JSON.parse(result.outputs["metadata"]!).state).toBe("succeeded");
    // One token for the whole step (HEAD, PUT, POST, logs, polls): reused while fresh.
    expect(askedAudiences).toEqual([audience]);
  });

  it("fails naming `permissions: id-token: write` when the job cannot get a token", async () => {
    const context = { workspace: workspace({ Dockerfile: "FROM x\n" }), runId: String(Date.now()), repository, sha };
    const result = await runStep("main", { "dispatcher-url": dispatcher.url, audience, platforms: "linux/amd64" }, context);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain("::error::auth: this job cannot request a GitHub OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL is not set); add `permissions: id-token: write` to the workflow or the job");
  });

  it("is refused by the dispatcher for a token of another audience, and says so", async () => {
    const context = { workspace: workspace({ Dockerfile: "FROM x\n" }), runId: String(Date.now()), repository, sha };
    const result = await runStep(
      "main",
      { "dispatcher-url": dispatcher.url, audience: "someone-else", platforms: "linux/amd64" },
      context,
      {},
      { ACTIONS_ID_TOKEN_REQUEST_URL: tokenUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken },
    );
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain(`::error::upload the context: OIDC token: audience is not "${audience}"; request the token with audience "${audience}"`);
  });
});
