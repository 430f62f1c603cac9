// A build's image index as its Jobs record it: the plan written at creation
// and the result the reconciler wrote after pushing (or giving up). Pure.

import type { V1Job } from "@kubernetes/client-node";
import { annotationKeys } from "../plan/names.js";
import { type IndexPlan, type IndexRecord, type ManifestState, manifestStateOf } from "../model/image-index-state.js";
import type { PlatformState } from "../protocol/build-state.js";

/** The index plan as recorded on a Job. */
export function indexPlanOf(job: V1Job): IndexPlan | undefined {
  const annotations = job.metadata?.annotations ?? {};
  const tags = parseJson<string[]>(annotations[annotationKeys.indexTags]);
  const platforms = parseJson<string[]>(annotations[annotationKeys.buildPlatforms]);
  const statusContext = annotations[annotationKeys.manifestStatusContext];
  if (!tags || !platforms || !statusContext) return undefined;
  return { tags, platforms, statusContext };
}

export function indexRecordOf(jobs: readonly V1Job[]): IndexRecord | undefined {
  for (const job of jobs) {
    const record = parseJson<IndexRecord>(job.metadata?.annotations?.[annotationKeys.index]);
    if (record) return record;
  }
  return undefined;
}

export function deriveManifestState(jobs: readonly V1Job[], platforms: readonly PlatformState[]): ManifestState | undefined {
  const plan = jobs.map(indexPlanOf).find((p) => p !== undefined);
  if (!plan) return undefined;
  return manifestStateOf(plan, indexRecordOf(jobs), platforms);
}

function parseJson<T>(text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
