// Which Dockerfile line each platform's build was at, followed line by line
// as its log streams: the place a builder names can lie far above the last
// lines kept for the failure message (a RUN's own output comes after the
// classic builder's `Step k/n`). The annotation of a failed platform points
// there. Pure.

import type { LogLine } from "../dispatcher/protocol/build-logs.js";
import {
  type DockerfileInstruction,
  buildKitErrorLine,
  classicBuilderStep,
  classicStepLine,
  dockerfileInstructions,
} from "../dispatcher/protocol/dockerfile-lines.js";

export class DockerfileLocator {
  private readonly at = new Map<string, { step: string; line: number | undefined }>();
  private instructions: DockerfileInstruction[] | undefined;

  constructor(
    /** The Dockerfile as the build request names it (relative to the context): BuildKit prints that name. */
    private readonly file: string,
    /** Its text, for the classic builder's step numbers; undefined when it could not be read. */
    private readonly text: string | undefined,
    private readonly builderOf: (platform: string) => string | undefined,
  ) {}

  line(line: LogLine): void {
    const builder = this.builderOf(line.platform);
    if (builder === "buildkit" || builder === "buildkit-windows") {
      const found = buildKitErrorLine(line.line, this.file);
      if (found !== undefined) this.at.set(line.platform, { step: line.step, line: found });
    } else if (builder === "docker") {
      const step = classicBuilderStep(line.line);
      if (step === undefined) return;
      // A step that maps to no line (another Dockerfile than the one built) forgets the one before: no line beats a wrong one.
      this.instructions ??= this.text === undefined ? [] : dockerfileInstructions(this.text);
      this.at.set(line.platform, { step: line.step, line: classicStepLine(this.instructions, step.step, step.keyword) });
    }
  }

  /** The line the platform's build was at when its step `step` (the failed one) printed it; undefined when unknown. */
  lineOf(platform: string, step: string | undefined): number | undefined {
    const at = this.at.get(platform);
    return at !== undefined && (step === undefined || at.step === step) ? at.line : undefined;
  }
}
