// Asks a docker credential helper for a login, as the docker CLI does
// (https://github.com/docker/docker-credential-helpers#development): run
// `docker-credential-<name> get`, the server URL on stdin, JSON
// {ServerURL, Username, Secret} on stdout. Only the local executor needs
// this: on the host the docker CLI keeps logins in the OS keychain (Docker
// Desktop, osxkeychain, pass, wincred) or behind cloud helpers (ecr-login,
// gcloud), and the index must go out as whoever pushed the platforms.
//
// Not an npm package: none is kept for this protocol, and it is one process
// call with a line in and a JSON object out.

import { execFile } from "node:child_process";
import type { RegistryCredential } from "../registry/docker-config.js";

/** A helper that asks the user (a keychain prompt) must not hold a build forever. */
const helperTimeoutMs = 30_000;

export interface HelperRequest {
  helper: string;
  serverUrl: string;
  /** Where the helper is named, for errors: e.g. `~/.docker/config.json credsStore`. */
  namedIn: string;
  env: Readonly<Record<string, string | undefined>>;
}

export function credentialFromHelper({ helper, serverUrl, namedIn, env }: HelperRequest): Promise<RegistryCredential | undefined> {
  const program = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = execFile(
      program,
      ["get"],
      { env: env as NodeJS.ProcessEnv, timeout: helperTimeoutMs, maxBuffer: 1 << 20, encoding: "utf8" },
      (err, stdout, stderr) => {
        if (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === "ENOENT") {
            reject(new Error(`${program} is not on PATH, and ${namedIn} names it: install it, or remove it there and docker login again`));
            return;
          }
          // The helpers' own wording for "no login stored for this server".
          if (/credentials not found/i.test(`${stdout}${stderr}`)) {
            resolve(undefined);
            return;
          }
          const said = `${stderr || stdout}`.trim().slice(0, 300);
          const why = err.killed ? `gave no answer within ${helperTimeoutMs / 1000} s` : `failed (exit ${code ?? "?"})${said ? `: ${said}` : ""}`;
          reject(new Error(`${program} get ${serverUrl} ${why}; check it with: echo ${serverUrl} | ${program} get`));
          return;
        }
        let answer: { Username?: unknown; Secret?: unknown };
        try {
          answer = JSON.parse(stdout);
        } catch {
          reject(new Error(`${program} get ${serverUrl} did not answer with JSON; check it with: echo ${serverUrl} | ${program} get`));
          return;
        }
        const username = typeof answer.Username === "string" ? answer.Username : "";
        const secret = typeof answer.Secret === "string" ? answer.Secret : "";
        // Older helpers (pass 0.6) answer "not found" with empty fields and exit 0.
        if (secret === "") resolve(undefined);
        // docker's convention for an identity token (OAuth2 refresh token, e.g. ACR).
        else if (username === "<token>") resolve({ kind: "refresh-token", username, refreshToken: secret });
        else resolve({ kind: "basic", username, password: secret });
      },
    );
    child.stdin?.on("error", () => undefined); // a helper that exits without reading stdin: its exit says why
    child.stdin?.end(serverUrl);
  });
}
