// The config as it is now. Most of it is fixed at start (ports, executor,
// namespace, OIDC issuer); the policy and the shared secrets are read from
// here on every request, so a reload (SIGHUP, or Dispatcher.reload()) takes
// effect for the next request without a restart.

import type { Config } from "./schema.js";

/** Keys a reload applies; a change to any other key waits for a restart. */
export const reloadableKeys = ["policy", "auth.sharedSecrets", "auth.buildReads", "webhooks.secret"] as const;

export interface ReloadResult {
  /** Reloadable keys whose value changed and now apply. */
  applied: string[];
  /** Other keys that changed: logged, applied at the next restart. */
  needRestart: string[];
}

export class LiveConfig {
  constructor(private config: Config) {}

  get current(): Config {
    return this.config;
  }

  replace(next: Config): ReloadResult {
    const before = this.config;
    const applied = reloadableKeys.filter((key) => JSON.stringify(valueAt(before, key)) !== JSON.stringify(valueAt(next, key)));
    const needRestart = leafKeys(before, next).filter((key) => !reloadableKeys.some((r) => key === r || key.startsWith(`${r}.`)));
    this.config = {
      ...before,
      policy: next.policy,
      auth: { ...before.auth, sharedSecrets: next.auth.sharedSecrets, buildReads: next.auth.buildReads },
      webhooks: { ...before.webhooks, secret: next.webhooks.secret },
    };
    return { applied: [...applied], needRestart };
  }
}

function valueAt(config: unknown, key: string): unknown {
  return key.split(".").reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], config);
}

/** Dotted keys (to the second level) whose values differ, without printing any value. */
function leafKeys(a: Config, b: Config): string[] {
  const changed: string[] = [];
  for (const top of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const left = (a as Record<string, unknown>)[top];
    const right = (b as Record<string, unknown>)[top];
    if (JSON.stringify(left) === JSON.stringify(right)) continue;
    if (left && right && typeof left === "object" && typeof right === "object" && !Array.isArray(left)) {
      for (const sub of new Set([...Object.keys(left), ...Object.keys(right)])) {
        if (JSON.stringify((left as Record<string, unknown>)[sub]) !== JSON.stringify((right as Record<string, unknown>)[sub])) changed.push(`${top}.${sub}`);
      }
    } else changed.push(top);
  }
  return changed;
}
