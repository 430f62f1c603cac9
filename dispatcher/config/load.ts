// The only config code with I/O: reads the file named by DOCKHAND_CONFIG (if
// any) and the environment, then hands both to the pure resolveConfig.

import { readFile } from "node:fs/promises";
import { type Config, configFileEnv } from "./schema.js";
import { ConfigError, type Env, parseConfigText, resolveConfig } from "./validate.js";

/**
 * Loads and validates the dispatcher config at start. Without DOCKHAND_CONFIG
 * the config comes from defaults and DOCKHAND_* variables alone.
 * Throws ConfigError naming every bad key.
 */
export async function loadConfig(env: Env = process.env): Promise<Config> {
  const path = env[configFileEnv];
  if (path === undefined || path === "") return resolveConfig({}, env, "environment");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(path, [
      {
        key: configFileEnv,
        message:
          code === "ENOENT"
            ? `names ${JSON.stringify(path)}, which does not exist; fix the path or unset ${configFileEnv}`
            : `names ${JSON.stringify(path)}, which cannot be read (${code ?? String(error)})`,
      },
    ]);
  }
  return resolveConfig(parseConfigText(text, path), env, path);
}
