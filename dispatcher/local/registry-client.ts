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
import { rememberedFor } from "../remembered.js";
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
  const configText = rememberedFor(maxAgeMs, async (path): Promise<string | undefined> => {
    try {
      return await readFile(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      return undefined; // no docker login on this host: anonymous
    }
  });
  // Keyed by what the helper is asked: [helper, server URL, where it is named].
  const fromHelper = rememberedFor(maxAgeMs, (key) => {
    const [helper, serverUrl, setting] = JSON.parse(key) as [string, string, string];
    return credentialFromHelper({ helper, serverUrl, namedIn: `${file} ${setting}`, env });
  });
  const credentials = async (host: string): Promise<RegistryCredential | undefined> => {
    const text = await configText(file);
    if (text === undefined) return undefined;
    let source;
    try {
      source = credentialSourceFor(text, host);
    } catch (err) {
      throw new Error(`${file}: ${(err as Error).message}; fix it or run docker login again`);
    }
    if (source?.kind !== "helper") return source?.credential;
    return fromHelper(JSON.stringify([source.helper, source.serverUrl, source.setting]));
  };
  const http = new RegistryHttp({ insecureRegistries, credentialsSource: `${file} (docker login)`, credentials });
  return { http, reader: new ImageReader(http) };
}
