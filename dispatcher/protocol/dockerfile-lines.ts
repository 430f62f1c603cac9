// Where in the Dockerfile a build stopped, read from what the builders print,
// and which Dockerfile line a classic builder step number stands for. Pure:
// no I/O and no dependency, so the Action bundles it at no cost. The Action
// uses it to annotate the line of a failing build (it has the Dockerfile, in
// its checkout, and the build's log lines); the dispatcher's planner, which
// parses Dockerfiles with dockerfile-ast, puts its refusals' lines in the
// error body instead (errors.ts).

export interface DockerfileInstruction {
  /** 1-based line the instruction starts on. */
  readonly line: number;
  /** As written: `RUN`, `run`, `FROM`. */
  readonly keyword: string;
}

const directivePattern = /^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$/;

/**
 * The instructions of a Dockerfile in order, each with the line it starts
 * on, split as moby's Dockerfile parser splits them (the classic builder
 * numbers its steps by these): parser directives at the top (`# escape=``)
 * set the escape character; blank lines and comments are skipped, inside a
 * continuation too; a line ending in the escape character (then only spaces
 * or tabs) continues on the next. Heredocs are not followed: the classic
 * builder cannot build them, and the dispatcher refuses them there
 * (dispatcher/plan/builder-choice.ts).
 */
export function dockerfileInstructions(text: string): DockerfileInstruction[] {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  let escape = "\\";
  let index = 0;
  // https://docs.docker.com/reference/dockerfile/#parser-directives: only
  // before the first comment, blank line or instruction.
  for (; index < lines.length; index++) {
    const directive = directivePattern.exec(lines[index] as string);
    if (!directive) break;
    if (directive[1]!.toLowerCase() === "escape" && (directive[2] === "`" || directive[2] === "\\")) escape = directive[2];
  }
  const continues = new RegExp(`${escape === "\\" ? "\\\\" : "`"}[ \\t]*$`);
  const skipped = (line: string) => line.trim() === "" || line.trimStart().startsWith("#");

  const instructions: DockerfileInstruction[] = [];
  for (; index < lines.length; index++) {
    const line = lines[index] as string;
    if (skipped(line)) continue;
    instructions.push({ line: index + 1, keyword: /^\S+/.exec(line.trimStart())![0] });
    let current = line;
    while (continues.test(current) && index + 1 < lines.length) {
      index++;
      current = lines[index] as string;
      // A comment or blank line inside a continuation neither ends it nor counts as its last line.
      if (skipped(current)) current = escape;
    }
  }
  return instructions;
}

/** `Step 4/7 : run echo a && echo b`, as the classic builder announces each instruction. */
export function classicBuilderStep(logLine: string): { step: number; keyword: string } | undefined {
  const match = /^Step (\d+)\/\d+ : (\S+)/.exec(logLine);
  return match ? { step: Number(match[1]), keyword: match[2]! } : undefined;
}

/**
 * The Dockerfile line of classic builder step `step` (1-based; the ARGs
 * before the first FROM count, and so does each FROM). Undefined when the
 * Dockerfile has no such instruction or a different one there, as when the
 * Dockerfile given is not the one built.
 */
export function classicStepLine(instructions: readonly DockerfileInstruction[], step: number, keyword: string): number | undefined {
  const instruction = instructions[step - 1];
  return instruction !== undefined && instruction.keyword.toLowerCase() === keyword.toLowerCase() ? instruction.line : undefined;
}

/**
 * BuildKit prints `<file>:<line>` alone on a line above the source of the
 * instruction that failed (buildkit solver/errdefs Source.Print; buildctl and
 * buildx both), `file` being the Dockerfile's path as the build was given it.
 * Output of the build's own commands never matches: BuildKit prefixes it.
 */
export function buildKitErrorLine(logLine: string, file: string): number | undefined {
  if (!logLine.startsWith(`${file}:`)) return undefined;
  const rest = logLine.slice(file.length + 1);
  return /^[1-9]\d*$/.test(rest) ? Number(rest) : undefined;
}
