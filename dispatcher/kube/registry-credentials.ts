// The dispatcher's read of a registry Secret (kubernetes.io/dockerconfigjson)
// that build pods mount: the image checks and the index push use the
// credentials the platforms pushed with, read from the Secret the Job itself
// mounts (registry.secretName, or one the repository's policy grants).
// RBAC: get on those Secrets only (resourceNames).

import { CoreV1Api, type KubeConfig, type V1Job } from "@kubernetes/client-node";
import { dockerConfigVolume } from "../plan/job-common.js";
import { credentialFor } from "../registry/docker-config.js";
import { ImageReader } from "../registry/image-reader.js";
import { RegistryHttp } from "../registry/registry-http.js";
import { rememberedFor } from "../remembered.js";
import { isNotFound } from "./api-errors.js";

export class RegistryCredentialsSecrets {
  private readonly core: CoreV1Api;
  /** The Secret's .dockerconfigjson, or undefined when it is missing or has none (anonymous access). */
  readonly dockerConfigJson: (secretName: string) => Promise<string | undefined>;

  constructor(
    kc: KubeConfig,
    readonly namespace: string,
    /** A rotated Secret is picked up within this long. */
    maxAgeMs = 30_000,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.dockerConfigJson = rememberedFor(maxAgeMs, (secretName) => this.read(secretName));
  }

  private async read(secretName: string): Promise<string | undefined> {
    try {
      const secret = await this.core.readNamespacedSecret({ namespace: this.namespace, name: secretName });
      const data = secret.data?.[".dockerconfigjson"];
      return data ? Buffer.from(data, "base64").toString("utf8") : undefined;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      return undefined;
    }
  }
}

/** The registry Secret a build Job mounts for its pushes (volume docker-config), if any. */
export function registrySecretOf(job: V1Job): string | undefined {
  return job.spec?.template.spec?.volumes?.find((volume) => volume.name === dockerConfigVolume)?.secret?.secretName;
}

/**
 * One registry client per registry Secret (its Bearer tokens are cached per
 * client), each reading its credentials through `secrets` on demand.
 */
export function registryClients(
  secrets: RegistryCredentialsSecrets,
  insecureRegistries: readonly string[],
): (secretName: string | undefined) => { http: RegistryHttp; reader: ImageReader } {
  const clients = new Map<string, { http: RegistryHttp; reader: ImageReader }>();
  return (secretName) => {
    const key = secretName ?? "";
    let client = clients.get(key);
    if (!client) {
      const http = new RegistryHttp({
        insecureRegistries,
        credentials: async (host) => {
          if (secretName === undefined) return undefined;
          const text = await secrets.dockerConfigJson(secretName);
          return text === undefined ? undefined : credentialFor(text, host);
        },
      });
      client = { http, reader: new ImageReader(http) };
      clients.set(key, client);
    }
    return client;
  };
}
