// The local executor's registry client: the credentials the docker CLI and
// buildctl pushed with on this host, i.e. $DOCKER_CONFIG/config.json or
// ~/.docker/config.json (https://docs.docker.com/reference/cli/docker/#configuration-files),
// so the index goes out as whoever pushed the platforms. registry.secretName
// is a Kubernetes Secret and does not apply here.
//
// Logins are found where docker looks: credHelpers, credsStore (Docker
// Desktop, the OS keychain, pass, ecr-login…), then auths. A helper is run
// at most once per registry every 30 s, as the file is read.

import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { credentialSourceFor, type RegistryCredential } from "../registry/docker-config.js";
import { credentialFromHelper } from "./credential-helper.js";
import { ImageReader } from "../registry/image-reader.js";
import { RegistryHttp } from "../registry/registry-http.js";

/** A `docker login` while the dispatcher runs is picked up within this long. */
const maxAgeMs = 30_000;

export function dockerConfigFile(env: Readonly<Record<string, string | undefined>>): string {
  return join(env["DOCKER_CONFIG"] ?? join(homedir(), ".docker"), "config.json");
}

export function localRegistryClient(
  insecureRegistries: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): { http: RegistryHttp; reader: ImageReader } {
  const file = dockerConfigFile(env);
  let cached: { text: string | undefined; at: number } | undefined;
  const configText = async (): Promise<string | undefined> => {
    if (cached && Date.now() - cached.at < maxAgeMs) return cached.text;
    let text: string | undefined;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      text = undefined; // no docker login on this host: anonymous
    }
    cached = { text, at: Date.now() };
    return text;
  };
  const fromHelpers = new Map<string, { credential: Promise<RegistryCredential | undefined>; at: number }>();
  const credentials = async (host: string): Promise<RegistryCredential | undefined> => {
    const text = await configText();
    if (text === undefined) return undefined;
    let source;
    try {
      source = credentialSourceFor(text, host);
    } catch (err) {
      throw new Error(`${file}: ${(err as Error).message}; fix it or run docker login again`);
    }
    if (source?.kind !== "helper") return source?.credential;
    const key = `${source.helper} ${source.serverUrl}`;
    const cachedAnswer = fromHelpers.get(key);
    if (cachedAnswer && Date.now() - cachedAnswer.at < maxAgeMs) return cachedAnswer.credential;
    const credential = credentialFromHelper({ helper: source.helper, serverUrl: source.serverUrl, namedIn: `${file} ${source.setting}`, env });
    fromHelpers.set(key, { credential, at: Date.now() });
    // A failure is not kept: the next request asks again (the user may fix it meanwhile).
    credential.catch(() => fromHelpers.delete(key));
    return credential;
  };
  const http = new RegistryHttp({ insecureRegistries, credentialsSource: `${file} (docker login)`, credentials });
  return { http, reader: new ImageReader(http) };
}
