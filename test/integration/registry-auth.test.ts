// dockhand's registry client against a real registry that demands Bearer
// tokens (distribution's `auth: token`, the scheme of Docker Hub, GHCR, ACR,
// ECR…): the 401 challenge, a token fetched with the docker config's
// credentials, the registry verifying that token's signature and scopes, a
// manifest and config read, and an index PUT that skopeo reads back. The
// token service is the test's own (any registry's is specific to it): it
// checks the Basic credentials dockhand sends and issues what distribution
// documents (https://distribution.github.io/distribution/spec/auth/jwt/).
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { importPKCS8, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentialFor } from "../../dispatcher/registry/docker-config.js";
import { imageIndex } from "../../dispatcher/registry/image-index.js";
import { ImageReader } from "../../dispatcher/registry/image-reader.js";
import { pushIndex } from "../../dispatcher/registry/index-push.js";
import { RegistryHttp } from "../../dispatcher/registry/registry-http.js";
import { localRegistryClient } from "../../dispatcher/local/registry-client.js";
import { bedEnv } from "../bed/bed-env.js";
import { freePort } from "./harness.js";

// skopeo talks to the token service in this very process: it must run asynchronously.
function run(command: string, args: string[]): Promise<{ status: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { encoding: "buffer", timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr: stderr.toString("utf8") }),
    );
  });
}

const service = "dockhand-test-registry";
const issuer = "dockhand-test-token-service";
const user = { name: "builder", password: randomBytes(12).toString("hex") };

let registryProcess: ChildProcess | undefined;
let tokenServer: Server;
let registry: string;
const tokenRequests: { authorization: string | undefined; scope: string | null }[] = [];

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "dh-registry-auth-"));
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
    "-subj", "/CN=dockhand test token signer", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
  ], { stdio: "ignore" });
  execFileSync("openssl", ["pkcs8", "-topk8", "-nocrypt", "-in", join(dir, "key.pem"), "-out", join(dir, "key.pk8")]);
  const key = await importPKCS8(readFileSync(join(dir, "key.pk8"), "utf8"), "ES256");
  const certDer = Buffer.from(readFileSync(join(dir, "cert.pem"), "utf8").replace(/-----[^-]+-----|\s/g, ""), "base64").toString("base64");

  const tokenPort = await freePort();
  tokenServer = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const scope = url.searchParams.get("scope");
    tokenRequests.push({ authorization: req.headers.authorization, scope });
    const expected = `Basic ${Buffer.from(`${user.name}:${user.password}`).toString("base64")}`;
    if (req.headers.authorization !== expected) {
      res.writeHead(401).end();
      return;
    }
    const [type, name, actions] = (scope ?? "").split(":");
    const token = await new SignJWT({ access: type ? [{ type, name, actions: (actions ?? "").split(",") }] : [] })
      .setProtectedHeader({ alg: "ES256", x5c: [certDer] })
      .setIssuer(issuer)
      .setSubject(user.name)
      .setAudience(service)
      .setIssuedAt()
      .setNotBefore("-10s")
      .setExpirationTime("5m")
      .setJti(randomBytes(8).toString("hex"))
      .sign(key);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token, expires_in: 300 }));
  });
  await new Promise<void>((resolve) => tokenServer.listen(tokenPort, "127.0.0.1", resolve));

  const port = await freePort();
  registry = `127.0.0.1:${port}`;
  writeFileSync(
    join(dir, "config.yml"),
    [
      "version: 0.1",
      "log: {level: warn}",
      `storage: {filesystem: {rootdirectory: ${join(dir, "data")}}, delete: {enabled: true}}`,
      `http: {addr: "${registry}"}`,
      `auth: {token: {realm: "http://127.0.0.1:${tokenPort}/token", service: ${service}, issuer: ${issuer}, rootcertbundle: ${join(dir, "cert.pem")}}}`,
      "",
    ].join("\n"),
  );
  registryProcess = spawn("docker-registry", ["serve", join(dir, "config.yml")], { stdio: ["ignore", "ignore", "pipe"] });
  for (let i = 0; ; i++) {
    const answer = await fetch(`http://${registry}/v2/`).catch(() => undefined);
    if (answer?.status === 401) break;
    if (i > 100) throw new Error("the token-auth registry did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  // An image to read: copied from the bed's registry with skopeo, through the same token service.
  const env = bedEnv();
  const copy = await run("skopeo", [
    "copy", "--src-tls-verify=false", "--dest-tls-verify=false", `--dest-creds=${user.name}:${user.password}`,
    `docker://${env.WINDOWS_BASE_IMAGE}:ltsc2022`, `docker://${registry}/team/app:1-win-ltsc2022`,
  ]);
  if (copy.status !== 0) throw new Error(`skopeo copy: ${copy.stderr}`);
});

afterAll(async () => {
  registryProcess?.kill();
  await new Promise((resolve) => tokenServer?.close(resolve));
});

function client(dockerConfig: object): RegistryHttp {
  const text = JSON.stringify(dockerConfig);
  return new RegistryHttp({ insecureRegistries: [registry], credentials: async (host) => credentialFor(text, host) });
}

describe("a registry that demands Bearer tokens", () => {
  it("reads an image and pushes an index with a token fetched with the docker config's credentials", async () => {
    const auth = Buffer.from(`${user.name}:${user.password}`).toString("base64");
    const http = client({ auths: { [`http://${registry}/v2/`]: { auth } } });
    const reader = new ImageReader(http);
    const tagged = await reader.manifest(registry, "team/app", "1-win-ltsc2022");
    const image = await reader.pushedImage(registry, "team/app", tagged.descriptor.digest);
    expect(image.platform).toEqual({ os: "windows", architecture: "amd64", "os.version": "10.0.20348.2700" });
    expect(tokenRequests.at(-1)).toEqual({ authorization: `Basic ${auth}`, scope: "repository:team/app:pull" });

    const index = imageIndex([{ ...image.manifest, platform: image.platform }]);
    expect(await pushIndex(http, registry, "team/app", "1", index)).toBe(index.digest);
    expect(tokenRequests.at(-1)!.scope).toBe("repository:team/app:pull,push");

    const raw = await run("skopeo", ["inspect", "--raw", "--tls-verify=false", `--creds=${user.name}:${user.password}`, `docker://${registry}/team/app:1`]);
    expect(raw.status, raw.stderr).toBe(0);
    expect(`sha256:${createHash("sha256").update(raw.stdout).digest("hex")}`).toBe(index.digest);
  });

  it("keeps a token for its scope instead of asking again on every request", async () => {
    const http = client({ auths: { [registry]: { username: user.name, password: user.password } } });
    const reader = new ImageReader(http);
    const before = tokenRequests.length;
    for (let i = 0; i < 3; i++) await reader.manifest(registry, "team/app", "1-win-ltsc2022");
    expect(tokenRequests.length - before).toBe(1);
  });

  it("says which registry refused whom when the token service turns the credentials down", async () => {
    const http = client({ auths: { [registry]: { username: user.name, password: "wrong" } } });
    await expect(new ImageReader(http).manifest(registry, "team/app", "1")).rejects.toThrow(`refused the credentials of ${user.name} for repository:team/app:pull`);
  });

  it("reads with the credentials of the host's docker config for the local executor (DOCKER_CONFIG), and names that file when it has none", async () => {
    const withLogin = mkdtempSync(join(tmpdir(), "dh-docker-config-"));
    writeFileSync(join(withLogin, "config.json"), JSON.stringify({ auths: { [registry]: { auth: Buffer.from(`${user.name}:${user.password}`).toString("base64") } } }));
    const { reader } = localRegistryClient([registry], { DOCKER_CONFIG: withLogin });
    const tagged = await reader.manifest(registry, "team/app", "1-win-ltsc2022");
    expect((await reader.pushedImage(registry, "team/app", tagged.descriptor.digest)).platform).toMatchObject({ os: "windows" });

    const withoutLogin = mkdtempSync(join(tmpdir(), "dh-docker-config-"));
    const anonymous = localRegistryClient([registry], { DOCKER_CONFIG: withoutLogin });
    const error = await anonymous.reader.manifest(registry, "team/app", "1").catch((e: unknown) => e);
    expect(String(error)).toContain(`refused anonymous access for repository:team/app:pull: HTTP 401 (no credentials for ${registry} in ${join(withoutLogin, "config.json")} (docker login))`);
  });

  it("takes the login from a real credential helper (docker-credential-pass) named by credsStore or credHelpers, as the docker CLI does", async () => {
    const home = mkdtempSync(join(tmpdir(), "dh-cred-helper-"));
    const helperEnv = { PATH: process.env["PATH"], GNUPGHOME: join(home, "gnupg"), PASSWORD_STORE_DIR: join(home, "store"), HOME: home };
    const sh = (command: string, args: string[], input?: string) => execFileSync(command, args, { env: helperEnv, input, stdio: ["pipe", "pipe", "pipe"] }).toString("utf8");
    mkdirSync(helperEnv.GNUPGHOME, { mode: 0o700 });
    try {
      sh("gpg", ["--batch", "--passphrase", "", "--quick-gen-key", "dockhand test <test@dockhand.invalid>", "default", "default", "never"]);
      const fingerprint = /^fpr:+([0-9A-F]+):/m.exec(sh("gpg", ["--list-keys", "--with-colons"]))![1]!;
      sh("pass", ["init", fingerprint]);
      // What `docker login` does with credsStore set: the login goes to the helper, the file keeps a marker.
      sh("docker-credential-pass", ["store"], JSON.stringify({ ServerURL: registry, Username: user.name, Secret: user.password }));
      for (const config of [{ credsStore: "pass", auths: { [registry]: {} } }, { credHelpers: { [registry]: "pass" } }]) {
        const dockerConfig = mkdtempSync(join(tmpdir(), "dh-docker-config-"));
        writeFileSync(join(dockerConfig, "config.json"), JSON.stringify(config));
        const { reader } = localRegistryClient([registry], { ...helperEnv, DOCKER_CONFIG: dockerConfig });
        const tagged = await reader.manifest(registry, "team/app", "1-win-ltsc2022");
        expect(tagged.descriptor.digest, JSON.stringify(config)).toMatch(/^sha256:/);
      }

      const missing = mkdtempSync(join(tmpdir(), "dh-docker-config-"));
      writeFileSync(join(missing, "config.json"), JSON.stringify({ credsStore: "dockhand-no-such-helper" }));
      const error = await localRegistryClient([registry], { ...helperEnv, DOCKER_CONFIG: missing }).reader.manifest(registry, "team/app", "1").catch((e: unknown) => e);
      expect(String(error)).toContain(
        `docker-credential-dockhand-no-such-helper is not on PATH, and ${join(missing, "config.json")} credsStore names it: install it, or remove it there and docker login again`,
      );
    } finally {
      execFileSync("gpgconf", ["--kill", "gpg-agent"], { env: helperEnv, stdio: "ignore" });
    }
  });

  it("says it went anonymous when the Secret has nothing for this registry", async () => {
    const http = client({ auths: { "ghcr.io": { username: "x", password: "y" } } });
    const error = await new ImageReader(http).manifest(registry, "team/app", "1").catch((e: unknown) => e);
    expect(String(error)).toMatch(/anonymous access/);
  });
});
