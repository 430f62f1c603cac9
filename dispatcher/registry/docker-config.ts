// Registry credentials from a kubernetes.io/dockerconfigjson Secret: the same
// file the docker CLI and buildctl read from $DOCKER_CONFIG in build pods, so
// the dispatcher pushes an index with exactly the credentials the platforms
// pushed with. Pure: the Secret's text in, one registry's credential out.
//
// Why dockhand has its own Distribution client (this folder): the npm clients
// for the registry API are either read-only (@snyk/docker-registry-v2-client
// reads manifests and configs but cannot PUT an index) or no longer kept
// (docker-registry-client, oci-registry-client: last releases years ago, on
// deprecated HTTP stacks). What dockhand needs is four requests and the
// token handshake, on Node's own fetch.

/** What a docker config holds for one registry. */
export type RegistryCredential =
  | { readonly kind: "basic"; readonly username: string; readonly password: string }
  /** `identitytoken` (docker login against an OAuth2 registry, e.g. ACR): a refresh token for the token endpoint. */
  | { readonly kind: "refresh-token"; readonly username: string; readonly refreshToken: string };

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

// Docker Hub is stored under its v1 index URL by `docker login`
// (https://docs.docker.com/reference/cli/docker/login/), whatever host the API is on.
const dockerHubKeys = ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"];

/**
 * Where a docker config keeps the login for `host`: in the file itself, or
 * behind a credential helper (`docker-credential-<helper> get`), by docker's
 * own precedence: `credHelpers[host]`, then `credsStore` (which then holds
 * every login, so `auths` entries are only markers), then `auths`.
 */
export type CredentialSource =
  | { readonly kind: "inline"; readonly credential: RegistryCredential }
  /** `serverUrl` is what docker login stored it under: the host, or Docker Hub's v1 URL. */
  | { readonly kind: "helper"; readonly helper: string; readonly serverUrl: string; readonly setting: "credHelpers" | "credsStore" };

/** Helper names become a program name on PATH: nothing that could be a path or an option. */
const helperName = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * The login for `host` (as in an image reference: `ghcr.io`,
 * `127.0.0.1:15000`, `docker.io`), or undefined for anonymous access.
 * Throws on a file that is not a docker config.
 */
export function credentialSourceFor(dockerConfigJson: string, host: string): CredentialSource | undefined {
  const parsed = parseConfig(dockerConfigJson);
  const wanted = keysFor(host);
  const serverUrl = host === "docker.io" ? dockerHubKeys[0]! : host;
  const helpers = parsed.credHelpers;
  if (helpers !== undefined) {
    if (typeof helpers !== "object" || helpers === null) throw new Error("docker config: credHelpers is not an object");
    for (const [key, helper] of Object.entries(helpers as Record<string, unknown>)) {
      if (wanted.has(normalizeKey(key))) return helperSource(helper, `credHelpers["${key}"]`, serverUrl, "credHelpers");
    }
  }
  if (parsed.credsStore !== undefined && parsed.credsStore !== "") return helperSource(parsed.credsStore, "credsStore", serverUrl, "credsStore");
  const credential = inlineCredential(parsed, wanted);
  return credential && { kind: "inline", credential };
}

/**
 * The credential written in the config's `auths` for `host`, or undefined.
 * What a kubernetes.io/dockerconfigjson Secret holds: no helper can run for
 * it, so helpers are not consulted. Keys may be written with a scheme and a
 * path (`https://ghcr.io/v2/`), as docker itself accepts.
 */
export function credentialFor(dockerConfigJson: string, host: string): RegistryCredential | undefined {
  return inlineCredential(parseConfig(dockerConfigJson), keysFor(host));
}

function parseConfig(text: string): { auths?: unknown; credHelpers?: unknown; credsStore?: unknown } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`.dockerconfigjson is not JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error(".dockerconfigjson is not a JSON object");
  return parsed;
}

function keysFor(host: string): Set<string> {
  return host === "docker.io" ? new Set(dockerHubKeys.map(normalizeKey)) : new Set([normalizeKey(host)]);
}

function helperSource(helper: unknown, where: string, serverUrl: string, setting: "credHelpers" | "credsStore"): CredentialSource {
  if (typeof helper !== "string" || !helperName.test(helper)) {
    throw new Error(`docker config: ${where} must name a credential helper (docker-credential-<name> on PATH), got ${JSON.stringify(helper)}`);
  }
  return { kind: "helper", helper, serverUrl, setting };
}

function inlineCredential(parsed: { auths?: unknown }, wanted: Set<string>): RegistryCredential | undefined {
  const auths = parsed.auths;
  if (auths === undefined) return undefined;
  if (typeof auths !== "object" || auths === null) throw new Error(".dockerconfigjson: auths is not an object");
  for (const [key, entry] of Object.entries(auths as Record<string, AuthEntry>)) {
    if (!wanted.has(normalizeKey(key))) continue;
    return credentialOf(entry, key);
  }
  return undefined;
}

function credentialOf(entry: AuthEntry, key: string): RegistryCredential | undefined {
  let username = entry.username;
  let password = entry.password;
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) throw new Error(`.dockerconfigjson: auths["${key}"].auth is not base64 of user:password`);
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  if (entry.identitytoken) return { kind: "refresh-token", username: username ?? "<token>", refreshToken: entry.identitytoken };
  if (username !== undefined && password !== undefined) return { kind: "basic", username, password };
  return undefined;
}

/** `https://Host:5000/v2/` → `host:5000`. */
function normalizeKey(key: string): string {
  return key
    .trim()
    .replace(/^[a-z]+:\/\//i, "")
    .replace(/\/.*$/, "")
    .toLowerCase();
}
