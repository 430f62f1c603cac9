// What the parts of the local executor share (the runner, status delivery,
// the index step), handed to each when local-executor.ts wires them, so none
// holds a reference to the executor or to another part it does not call.
// The Kubernetes controller's parts share the cluster (informers, Job
// annotations); these share the store and the in-memory LocalBuild.

import type { Config } from "../config/schema.js";
import type { FieldLogger } from "../logging.js";
import type { BuildStore } from "./build-store.js";
import type { LocalBuild } from "./local-build.js";

export interface LocalContext {
  readonly config: Config;
  readonly log: FieldLogger;
  readonly store: BuildStore;
  /**
   * Aborted when stop() begins: read-back waits end and failed reports are
   * not retried any more; the next start picks the work up from the record.
   */
  readonly stopped: AbortSignal;
  /** Writes the build's record, then wakes whoever waits for a change of it (LocalBuild.nextChange). */
  save(build: LocalBuild): Promise<void>;
}
