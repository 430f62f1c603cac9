// Build output is the build's words, not the Action's: the runner acts on a
// workflow command in any line a step prints — `::name …::` after leading
// spaces, and the legacy `##[name …]` anywhere in a line
// (actions/runner src/Runner.Common/ActionCommand.cs, TryParseV2 and
// TryParse) — so a RUN that echoes `::add-mask::`, `::set-output::` or
// `::stop-commands::` would act as the step itself. Every stretch of build
// output is printed inside `::stop-commands::<token>` … `::<token>::`, which
// the runner honours before any other command
// (src/Runner.Worker/ActionCommandManager.cs). The token is 128 random bits,
// new for each stretch and printed only as the stretch starts, so nothing
// the build printed before can end the stretch early.

import { randomBytes } from "node:crypto";
import type { LogOutput } from "./logs.js";

export class CommandFence {
  private token: string | undefined;

  constructor(
    /** Writes one line to the step's log (core.info). */
    private readonly write: (line: string) => void,
    private readonly newToken: () => string = () => randomBytes(16).toString("hex"),
  ) {}

  /** Prints text that may hold what the build wrote: inside a stop-commands stretch. */
  text(line: string): void {
    if (this.token === undefined) {
      this.token = this.newToken();
      this.write(`::stop-commands::${this.token}`);
    }
    this.write(line);
  }

  /** Ends the stretch, if one is open: call before each of the Action's own workflow commands. */
  resume(): void {
    if (this.token === undefined) return;
    this.write(`::${this.token}::`);
    this.token = undefined;
  }
}

/** A log display's output with the build's lines fenced and its groups outside every fence. */
export function fencedOutput(fence: CommandFence, out: LogOutput): LogOutput {
  return {
    startGroup: (title) => {
      fence.resume();
      out.startGroup(title);
    },
    endGroup: () => {
      fence.resume();
      out.endGroup();
    },
    info: (text) => fence.text(text),
  };
}
