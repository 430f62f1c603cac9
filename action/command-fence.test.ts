import { describe, expect, it } from "vitest";
import type { LogLine } from "../dispatcher/protocol/build-logs.js";
import { workflowCommandEffects } from "../test/action/runner-commands.js";
import { CommandFence, fencedOutput } from "./command-fence.js";
import { LogDisplay } from "./logs.js";

// What a hostile (or careless) RUN prints, each a command a runner acts on.
const forged = [
  "::add-mask::x",
  "::error file=x,line=1::forged",
  "::warning::forged",
  "::save-state name=buildId::evil",
  "::set-output name=digest::evil",
  "   ::notice::indented, still a command",
  "#5 0.046 ##[set-output name=legacy;]anywhere in the line",
  "::stop-commands::tok",
  "::tok::",
];

const line = (platform: string, n: number, text: string): LogLine => ({ platform, step: "build", n, line: text });

function display(write: (line: string) => void, fence?: CommandFence) {
  const out = { startGroup: (t: string) => write(`::group::${t}`), endGroup: () => write("::endgroup::"), info: write };
  return new LogDisplay(fence ? fencedOutput(fence, out) : out);
}

function showTwoPlatforms(show: LogDisplay) {
  // The second platform speaks while the first is live: its lines are kept, then shown in their own group.
  show.line(line("windows/amd64:ltsc2022", 1, "Step 2/2 : RUN ./forge.cmd"));
  forged.forEach((text, i) => show.line(line("linux/amd64", i + 1, text)));
  forged.forEach((text, i) => show.line(line("windows/amd64:ltsc2022", i + 2, text)));
  show.finished("windows/amd64:ltsc2022");
  show.end();
}

describe("build output inside stop-commands", () => {
  it("without the fence a runner acts on every forged command (what this test guards against)", () => {
    const printed: string[] = [];
    showTwoPlatforms(display((l) => printed.push(l)));
    const effects = workflowCommandEffects(printed.join("\n"));
    expect(effects.outputs).toEqual({ digest: "evil", legacy: "anywhere in the line" });
    expect(effects.state).toEqual({ buildId: "evil" });
    expect(effects.masks).toEqual(["x", "x"]);
    expect(effects.annotations.map((a) => a.kind)).toEqual(["error", "warning", "notice", "error", "warning", "notice"]);
  });

  it("with it, the runner acts on the groups only: no output, state, mask or annotation, and commands resume after", () => {
    const printed: string[] = [];
    let n = 0;
    const fence = new CommandFence((l) => printed.push(l), () => `token${++n}`);
    showTwoPlatforms(display((l) => printed.push(l), fence));
    printed.push("::error::the Action's own error, after the build output");
    const effects = workflowCommandEffects(printed.join("\n"));
    expect(effects).toMatchObject({ outputs: {}, state: {}, masks: [], stoppedAtEnd: false });
    expect(effects.annotations).toEqual([{ kind: "error", properties: {}, message: "the Action's own error, after the build output" }]);
    // Each group is opened and closed by the runner, each stretch of build output has its own token.
    expect(effects.acted.map((c) => (c.name.startsWith("token") ? "resume" : c.name === "stop-commands" ? `stop ${c.data}` : c.name))).toEqual([
      "group", "stop token1", "resume", "endgroup",
      "group", "stop token2", "resume", "endgroup",
      "error",
    ]);
    // Every forged line but "::tok::", which is no command at all while tok is not the stop token.
    expect(effects.ignored).toHaveLength((forged.length - 1) * 2);
  });

  it("draws 128-bit tokens, new for each stretch", () => {
    const printed: string[] = [];
    const fence = new CommandFence((l) => printed.push(l));
    fence.text("a");
    fence.resume();
    fence.text("b");
    fence.resume();
    const tokens = printed.filter((l) => l.startsWith("::stop-commands::")).map((l) => l.slice("::stop-commands::".length));
    expect(tokens).toHaveLength(2);
    for (const token of tokens) expect(token).toMatch(/^[0-9a-f]{32}$/);
    expect(tokens[0]).not.toBe(tokens[1]);
    expect(printed).toEqual([`::stop-commands::${tokens[0]}`, "a", `::${tokens[0]}::`, `::stop-commands::${tokens[1]}`, "b", `::${tokens[1]}::`]);
  });
});
