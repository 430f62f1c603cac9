// The post step: runs after the job's steps even when the workflow was
// cancelled (runs.post-if defaults to always()). If main saved a build id
// but never settled it — killed before it could cancel, or it gave up
// following — the build is cancelled here, so no Job is left running for a
// workflow nobody waits on.

import * as core from "@actions/core";
import { requestAuth } from "./auth.js";
import { DispatcherClient, userAgent } from "./client.js";
import { getInputs } from "./inputs.js";
import { readPostState } from "./state.js";

export async function runPost(): Promise<void> {
  const state = readPostState();
  if (state.buildId === undefined) return;
  if (state.settled !== undefined) {
    core.info(`build ${state.buildId}: ${state.settled}; nothing to clean up`);
    return;
  }
  let client: DispatcherClient | undefined;
  try {
    const inputs = getInputs();
    client = new DispatcherClient({ baseUrl: inputs.dispatcherUrl, auth: requestAuth(inputs.auth), log: (m) => core.info(m), userAgent, retry: { attempts: 5 } });
    const cancelled = await client.cancelBuild(state.buildId, AbortSignal.timeout(60_000));
    core.info(
      cancelled
        ? `the step did not finish following build ${state.buildId}: cancelled it at the dispatcher`
        : `build ${state.buildId} is already gone from the dispatcher`,
    );
  } catch (err) {
    // The job has failed or been cancelled already; a failing post step would only hide why.
    core.warning(`could not cancel build ${state.buildId} at the dispatcher: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    client?.close();
  }
}
