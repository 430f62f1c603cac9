// `npm start`: loads the config, starts the dispatcher, stops it cleanly on SIGTERM/SIGINT.

import { randomBytes } from "node:crypto";
import { homedir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "./config/load.js";
import { ConfigError } from "./config/validate.js";
import { startDispatcher } from "./dispatcher.js";
import { findKubeConfig } from "./kube/kubeconfig.js";

/**
 * Without a cluster the dispatcher runs builds on the local Docker daemon, and
 * `npm start` should need no configuration at all: fill in what only a
 * cluster deployment must set deliberately.
 */
function localDefaults(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const wantsCluster = env.DOCKHAND_EXECUTOR === "kubernetes" || (env.DOCKHAND_EXECUTOR !== "local" && findKubeConfig(env.DOCKHAND_KUBECONFIG, env));
  if (wantsCluster || env.DOCKHAND_CONFIG) return env;
  const port = env.DOCKHAND_LISTEN_PORT ?? "8080";
  const state = join(env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "dockhand");
  return {
    ...env,
    DOCKHAND_EXECUTOR: env.DOCKHAND_EXECUTOR ?? "local",
    DOCKHAND_LISTEN_HOST: env.DOCKHAND_LISTEN_HOST ?? "127.0.0.1",
    DOCKHAND_PUBLIC_URL: env.DOCKHAND_PUBLIC_URL ?? `http://127.0.0.1:${port}`,
    DOCKHAND_CONTEXTS_DIR: env.DOCKHAND_CONTEXTS_DIR ?? join(state, "contexts"),
    // Signed context URLs only need to outlive this process when nothing else fetches them.
    DOCKHAND_SIGNING_KEY: env.DOCKHAND_SIGNING_KEY ?? randomBytes(32).toString("base64url"),
    // Loopback only, no config: a developer's own machine. Anything else must configure auth.
    DOCKHAND_AUTH_DISABLED: env.DOCKHAND_AUTH_DISABLED ?? "true",
  };
}

async function main(): Promise<void> {
  let config;
  try {
    config = await loadConfig(localDefaults(process.env));
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  // SIGHUP re-reads the config file: the policy and shared secrets change without a restart.
  const dispatcher = await startDispatcher(config, { reloadConfig: () => loadConfig(localDefaults(process.env)) });
  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1);
      stopping = true;
      dispatcher.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
