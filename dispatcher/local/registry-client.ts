// The local executor's registry client: the credentials the docker CLI and
// buildctl pushed with on this host, i.e. $DOCKER_CONFIG/config.json or
// ~/.docker/config.json (https://docs.docker.com/reference/cli/docker/#configuration-files),
// so the index goes out as whoever pushed the platforms. registry.secretName
// is a Kubernetes Secret and does not apply here.
//
// Only `auths` entries are read (credentialFor): credential helpers
// (credsStore / credHelpers) would mean running docker-credential-* binaries,
// which the read-back does not do; a registry whose login lives in one is
// read anonymously, and its refusal names the registry.

import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { credentialFor } from "../registry/docker-config.js";
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
  const http = new RegistryHttp({
    insecureRegistries,
    credentialsSource: `${file} (docker login)`,
    credentials: async (host) => {
      const text = await configText();
      if (text === undefined) return undefined;
      try {
        return credentialFor(text, host);
      } catch (err) {
        throw new Error(`${file}: ${(err as Error).message}; fix it or run docker login again`);
      }
    },
  });
  return { http, reader: new ImageReader(http) };
}
