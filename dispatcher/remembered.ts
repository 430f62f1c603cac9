// Answers kept for a while. Registry credentials (from a Secret, the docker
// config file or a credential helper) are asked for on every registry
// request, yet change only when someone logs in again or rotates a Secret.

import { LRUCache } from "lru-cache";

/**
 * `load`, with its answer per key (undefined included) remembered for
 * `maxAgeMs` (more than 0). Calls while a load runs share it; a load that
 * fails is not remembered, so the next call tries again.
 */
export function rememberedFor<V>(maxAgeMs: number, load: (key: string) => Promise<V>): (key: string) => Promise<V> {
  if (!(maxAgeMs > 0)) throw new Error(`rememberedFor: maxAgeMs must be more than 0, got ${maxAgeMs}`);
  // lru-cache stores no undefined: each answer goes in a box.
  const cache = new LRUCache<string, { value: V }>({ max: 1000, ttl: maxAgeMs, fetchMethod: async (key) => ({ value: await load(key) }) });
  return async (key) => (await cache.fetch(key))!.value;
}
