// The registry accepts a push and a read-back with the credentials build pods
// get (registry.secretName): one small blob uploaded to a repository the
// doctor names, read back byte for byte, then deleted. A blob, not a tagged
// image: nothing appears in the repository's tag list, and a registry that
// refuses deletes is left with an unreferenced blob its garbage collection
// removes.

import { createHash, randomBytes } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Config } from "../config/schema.js";
import { RegistryCredentialsSecrets } from "../kube/registry-credentials.js";
import { credentialFor } from "../registry/docker-config.js";
import { RegistryError, RegistryHttp, registryError } from "../registry/registry-http.js";
import { type CheckResult, fail, ok, skip } from "./check.js";

const name = "registry: push and read back";

/** host + repository from `--registry host[/path]`, or the first image prefix the policy grants. */
export function registryTarget(config: Config, option: string | undefined): { host: string; repository: string } | undefined {
  const prefix = option ?? config.policy.repositories.flatMap((rule) => rule.imagePrefixes).find((p) => p !== "*");
  if (prefix === undefined) return undefined;
  const [host = "", ...path] = prefix.replace(/\/+$/, "").split("/");
  const base = path.join("/");
  // An option names the repository itself; a policy prefix is a namespace the doctor adds its own name under.
  const repository = option !== undefined && base !== "" ? base : [base, "dockhand-doctor"].filter(Boolean).join("/");
  return { host, repository: repository.toLowerCase() };
}

export async function checkRegistry(kc: KubeConfig, config: Config, option: string | undefined, signal: AbortSignal): Promise<CheckResult[]> {
  const target = registryTarget(config, option);
  if (target === undefined) {
    return [skip(name, "no registry to try: policy.repositories grants no image prefix", "pass --registry <host>/<repository> (a repository the push credentials may write)")];
  }
  const { host, repository } = target;
  const secretName = config.registry.secretName;
  const secrets = new RegistryCredentialsSecrets(kc, config.kubernetes.namespace, 1);
  const source = secretName ? `Secret ${config.kubernetes.namespace}/${secretName}` : "no registry Secret (registry.secretName unset)";
  const http = new RegistryHttp({
    insecureRegistries: config.registry.insecureRegistries,
    credentialsSource: source,
    timeoutMs: 20_000,
    credentials: async (registryHost) => {
      if (!secretName) return undefined;
      const json = await secrets.dockerConfigJson(secretName);
      return json === undefined ? undefined : credentialFor(json, registryHost);
    },
    fetch: (input, init) => fetch(input, { ...init, signal: AbortSignal.any([signal, ...(init?.signal ? [init.signal] : [])]) }),
  });
  if (secretName && (await secrets.dockerConfigJson(secretName)) === undefined) {
    return [fail(name, `${source} is missing or has no .dockerconfigjson`, `kubectl -n ${config.kubernetes.namespace} create secret docker-registry ${secretName} --docker-server=${host} --docker-username=… --docker-password=…`)];
  }

  const bytes = Buffer.concat([Buffer.from("dockhand doctor probe "), randomBytes(16)]);
  const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  const where = `${host}/${repository}`;
  try {
    const started = await http.request(host, repository, "pull,push", `${repository}/blobs/uploads/`, { method: "POST" });
    if (started.status !== 202) throw await registryError(started, `starting an upload to ${where}`);
    await started.body?.cancel();
    const location = new URL(started.headers.get("location") ?? "", http.baseUrl(host));
    location.searchParams.set("digest", digest);
    const put = await http.request(host, repository, "pull,push", location.toString(), {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: bytes,
    });
    if (put.status !== 201) throw await registryError(put, `uploading a ${bytes.length}-byte blob to ${where}`);
    await put.body?.cancel();
    const read = await http.request(host, repository, "pull", `${repository}/blobs/${digest}`);
    if (!read.ok) throw await registryError(read, `reading back ${digest} from ${where}`);
    const back = Buffer.from(await read.arrayBuffer());
    if (!back.equals(bytes)) throw new Error(`${where} gave back ${back.length} bytes that are not the ${bytes.length} pushed`);
    const removed = await http.request(host, repository, "pull,push", `${repository}/blobs/${digest}`, { method: "DELETE" }).catch((e: unknown) => e as Error);
    const deleted = removed instanceof Response && removed.status === 202;
    if (removed instanceof Response) await removed.body?.cancel();
    return [
      ok(
        name,
        `pushed and read back a ${bytes.length}-byte blob at ${where} with ${secretName ? `the credentials in ${source}` : "anonymous access"}; ${deleted ? "deleted it" : `could not delete it (${removed instanceof Response ? `HTTP ${removed.status}` : removed.message}): an unreferenced blob, collected by the registry's garbage collection`}`,
      ),
    ];
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const denied = error instanceof RegistryError && (error.status === 401 || error.status === 403 || error.code === "UNAUTHORIZED" || error.code === "DENIED");
    return [
      fail(
        name,
        message,
        denied
          ? `put working push credentials for ${host} into ${secretName ? `the Secret ${secretName}` : "a docker-registry Secret and name it in registry.secretName"}: kubectl -n ${config.kubernetes.namespace} create secret docker-registry ${secretName ?? "registry-push"} --docker-server=${host} --docker-username=… --docker-password=… --dry-run=client -o yaml | kubectl apply -f -`
          : `can this machine reach ${host}? Is it HTTPS (else list it in registry.insecureRegistries)? Does ${repository} exist or may it be created by those credentials? (--registry picks another repository)`,
      ),
    ];
  }
}
