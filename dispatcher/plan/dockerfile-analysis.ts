// What the builder choice needs to know about a Dockerfile: its stages, which
// stages the target needs, which platform each stage runs on, and where the
// RUN steps are. Parsing is dockerfile-ast's (escape directive, line
// continuations, heredocs, lower-case instructions); stage resolution follows
// BuildKit's dockerfile frontend (dockerfile2llb).

import { Copy, DockerfileParser, type Flag, From, type Instruction, Run } from "dockerfile-ast";
import { RequestError, quoteValue } from "../protocol/errors.js";
import type { Platform } from "../protocol/platforms.js";

/** BuildKit runs on Linux, so `--platform=$BUILDPLATFORM` stages run on linux/amd64. */
export const buildPlatform = "linux/amd64";

export interface RunStep {
  /** 1-based line of the RUN keyword. */
  readonly line: number;
  readonly endLine: number;
  readonly heredoc: boolean;
}

/** A Dockerfile feature the classic builder (dockerd on Windows) cannot build. */
export interface BuildKitOnlyFeature {
  readonly line: number;
  /** `RUN --mount`, `COPY --link`, `RUN heredoc` … */
  readonly feature: string;
}

export interface ParsedStage {
  readonly index: number;
  /** Lower-cased (`AS Build` → "build"): BuildKit compares stage names case-insensitively. */
  readonly name: string | undefined;
  /** 1-based line of the FROM. */
  readonly line: number;
  /** The image argument as written, before ARG substitution. */
  readonly image: string;
  /** The --platform value as written. */
  readonly platformFlag: string | undefined;
  readonly runs: readonly RunStep[];
  /** `--from` of COPY and `from=` of RUN --mount, as written, with their lines. */
  readonly references: readonly { readonly value: string; readonly line: number }[];
  readonly buildKitOnly: readonly BuildKitOnlyFeature[];
}

export interface ParsedDockerfile {
  readonly escapeCharacter: string;
  /** ARGs before the first FROM, in order: the only ones FROM lines can use. */
  readonly globalArgs: readonly { readonly name: string; readonly defaultValue: string | undefined }[];
  readonly stages: readonly ParsedStage[];
}

/** Parses the Dockerfile text. Throws a RequestError (field `file`) when it has no stage. */
export function parseDockerfile(text: string): ParsedDockerfile {
  const dockerfile = DockerfileParser.parse(text);
  const globalArgs = dockerfile.getInitialARGs().flatMap((arg) => {
    const property = arg.getProperty();
    return property ? [{ name: property.getName(), defaultValue: property.getValue() ?? undefined }] : [];
  });

  interface StageBeingRead {
    from: From;
    runs: RunStep[];
    references: { value: string; line: number }[];
    buildKitOnly: BuildKitOnlyFeature[];
  }
  const stages: ParsedStage[] = [];
  let current: StageBeingRead | undefined;
  const finish = () => {
    if (!current) return;
    const stageName = current.from.getBuildStage();
    stages.push({
      index: stages.length,
      name: stageName ? stageName.toLowerCase() : undefined,
      line: current.from.getRange().start.line + 1,
      image: current.from.getImage() ?? "",
      platformFlag: current.from.getPlatformFlag()?.getValue() ?? undefined,
      runs: current.runs,
      references: current.references,
      buildKitOnly: current.buildKitOnly,
    });
  };

  for (const instruction of dockerfile.getInstructions()) {
    if (instruction instanceof From) {
      finish();
      current = { from: instruction, runs: [], references: [], buildKitOnly: [] };
      continue;
    }
    if (!current) continue; // ARGs before the first FROM (handled above) or stray instructions BuildKit rejects anyway.
    const line = instruction.getRange().start.line + 1;
    const flags = flagsOf(instruction);
    if (instruction instanceof Run) {
      const heredoc = instruction.getHeredocs().length > 0;
      current.runs.push({ line, endLine: instruction.getRange().end.line + 1, heredoc });
      if (heredoc) current.buildKitOnly.push({ line, feature: "RUN <<heredoc" });
      for (const flag of flags) {
        const name = flag.getName().toLowerCase();
        if (classicRunFlags.has(name)) continue;
        current.buildKitOnly.push({ line, feature: `RUN --${name}` });
        if (name !== "mount") continue;
        const from = flag.getOption("from")?.getValue();
        if (from) current.references.push({ value: from, line });
      }
    } else if (instruction instanceof Copy || instruction.getKeyword() === "ADD") {
      const keyword = instruction.getKeyword();
      if (instruction instanceof Copy && instruction.getHeredocs().length > 0) {
        current.buildKitOnly.push({ line, feature: "COPY <<heredoc" });
      }
      for (const flag of flags) {
        const name = flag.getName().toLowerCase();
        if (name === "from" && instruction instanceof Copy) {
          const value = flag.getValue();
          if (value) current.references.push({ value, line });
        } else if (!classicCopyFlags.has(name)) {
          current.buildKitOnly.push({ line, feature: `${keyword} --${name}` });
        }
      }
    }
  }
  finish();

  if (stages.length === 0) {
    throw new RequestError(
      { error: "file: the Dockerfile has no FROM", field: "file", hint: "check the file path; a Dockerfile starts with FROM <image>" },
      422,
    );
  }
  return { escapeCharacter: dockerfile.getEscapeCharacter(), globalArgs, stages };
}

// Flags the classic builder understands; anything else needs BuildKit.
// (Windows dockerd has no BuildKit: https://docs.docker.com/build/buildkit/#buildkit-on-windows)
const classicRunFlags = new Set<string>();
const classicCopyFlags = new Set(["from", "chown"]);

function flagsOf(instruction: Instruction): Flag[] {
  const withFlags = instruction as Instruction & { getFlags?: () => Flag[] };
  return withFlags.getFlags ? withFlags.getFlags() : [];
}

export type StageOs = "linux" | "windows";

export interface ResolvedStage extends ParsedStage {
  /** The image after ARG substitution, or undefined when the stage is FROM another stage. */
  readonly resolvedImage: string | undefined;
  /** Index of the stage this one is FROM, if any. */
  readonly baseStage: number | undefined;
  /** The platform it runs on: the target's, the build host's, or what --platform says. */
  readonly platform: string;
  readonly os: StageOs;
  /** Runs on another platform than the target: `--platform=$BUILDPLATFORM` (or linux/amd64) on a Windows target. */
  readonly onBuildHost: boolean;
  /** Indices of stages this one uses (base, COPY --from, RUN --mount from=), ascending. */
  readonly dependsOn: readonly number[];
}

export interface StageResolution {
  readonly stages: readonly ResolvedStage[];
  readonly targetIndex: number;
  /** Stages the target needs (itself included), ascending: what BuildKit builds. */
  readonly needed: readonly number[];
  /** Stages 0..target: what the classic builder builds, needed or not. */
  readonly builtByClassicBuilder: readonly number[];
  /** Global ARG values after substitution, build args applied; unset ARGs are absent. */
  readonly globalArgValues: Readonly<Record<string, string>>;
}

export interface ResolveOptions {
  readonly platform: Platform;
  /** Build args as sent to the builder (including WINDOWS_VERSION etc.). */
  readonly buildArgs: Readonly<Record<string, string>>;
  readonly target: string | undefined;
}

/** Resolves stages for one target platform. Throws a RequestError (field `target`) for an unknown target. */
export function resolveStages(parsed: ParsedDockerfile, options: ResolveOptions): StageResolution {
  const { platform } = options;
  // Automatic platform args (https://docs.docker.com/build/building/variables/#pre-defined-build-arguments),
  // available to FROM lines without an ARG.
  const [buildOs, buildArch] = buildPlatform.split("/") as [string, string];
  const automatic: Record<string, string> = {
    BUILDPLATFORM: buildPlatform,
    BUILDOS: buildOs,
    BUILDARCH: buildArch,
    TARGETPLATFORM: platform.ociPlatform,
    TARGETOS: platform.os,
    TARGETARCH: platform.arch,
  };
  // An ARG with no default that no build arg sets stays unset (so ${NAME-word} gives word).
  const globalArgValues: Record<string, string> = {};
  for (const { name, defaultValue } of parsed.globalArgs) {
    const provided = options.buildArgs[name];
    const scope = { ...automatic, ...globalArgValues };
    if (provided !== undefined) globalArgValues[name] = provided;
    else if (defaultValue !== undefined) globalArgValues[name] = substitute(defaultValue, scope, parsed.escapeCharacter);
  }
  const fromScope = { ...automatic, ...globalArgValues };
  const expand = (text: string) => substitute(text, fromScope, parsed.escapeCharacter);

  const stages: ResolvedStage[] = [];
  for (const stage of parsed.stages) {
    const image = expand(stage.image);
    const baseStage = findStage(stages, image.toLowerCase());
    const dependsOn = new Set<number>();
    if (baseStage !== undefined) dependsOn.add(baseStage);
    for (const reference of stage.references) {
      const referenced = findStage(stages, expand(reference.value).toLowerCase());
      if (referenced !== undefined) dependsOn.add(referenced);
    }

    let stagePlatform: string;
    if (baseStage !== undefined) {
      // dockerfile2llb: a stage FROM another stage takes that stage's platform.
      stagePlatform = (stages[baseStage] as ResolvedStage).platform;
    } else {
      const flag = stage.platformFlag === undefined ? "" : expand(stage.platformFlag);
      // An empty or unparsable --platform falls back to the target, as in BuildKit.
      stagePlatform = /^(linux|windows)\/[a-z0-9]+(\/[a-z0-9]+)?$/.test(flag) ? flag : platform.ociPlatform;
    }
    const os: StageOs = stagePlatform.startsWith("windows/") ? "windows" : "linux";
    stages.push({
      ...stage,
      resolvedImage: baseStage === undefined ? image : undefined,
      baseStage,
      platform: stagePlatform,
      os,
      onBuildHost: stagePlatform !== platform.ociPlatform,
      dependsOn: [...dependsOn].sort((a, b) => a - b),
    });
  }

  const targetIndex = findTarget(stages, options.target);
  const needed = new Set<number>();
  const visit = (index: number) => {
    if (needed.has(index)) return;
    needed.add(index);
    for (const dependency of (stages[index] as ResolvedStage).dependsOn) visit(dependency);
  };
  visit(targetIndex);

  return {
    stages,
    targetIndex,
    needed: [...needed].sort((a, b) => a - b),
    builtByClassicBuilder: stages.slice(0, targetIndex + 1).map((stage) => stage.index),
    globalArgValues,
  };
}

// BuildKit resolves a name or index only against earlier stages; anything else
// is an image reference.
function findStage(earlier: readonly ResolvedStage[], reference: string): number | undefined {
  if (/^[0-9]+$/.test(reference)) {
    const index = Number(reference);
    return index < earlier.length ? index : undefined;
  }
  return earlier.find((stage) => stage.name === reference)?.index;
}

function findTarget(stages: readonly ResolvedStage[], target: string | undefined): number {
  if (target === undefined) return stages.length - 1;
  const found = stages.find((stage) => stage.name === target.toLowerCase());
  if (found) return found.index;
  const names = stages.flatMap((stage) => (stage.name ? [stage.name] : []));
  throw new RequestError(
    {
      error: `target: the Dockerfile has no stage named ${quoteValue(target)}`,
      field: "target",
      hint: names.length > 0 ? `use one of ${names.join(", ")}, or leave target out to build the last stage` : "name a stage with FROM <image> AS <name>, or leave target out",
    },
    422,
  );
}

/** Human name of a stage for messages: `"build"` or `#2`. */
export function stageLabel(stage: ParsedStage): string {
  return stage.name === undefined ? `#${stage.index}` : JSON.stringify(stage.name);
}

/**
 * Substitutes $NAME, ${NAME}, ${NAME:-word}, ${NAME-word}, ${NAME:+word},
 * ${NAME+word} like BuildKit's shell lexer; the escape character before "$"
 * keeps it literal. Unknown names become "" (as in BuildKit).
 */
export function substitute(text: string, values: Readonly<Record<string, string>>, escapeCharacter = "\\"): string {
  let out = "";
  for (let index = 0; index < text.length; index++) {
    const char = text[index] as string;
    if (char === escapeCharacter && text[index + 1] === "$") {
      out += "$";
      index++;
      continue;
    }
    if (char !== "$") {
      out += char;
      continue;
    }
    const rest = text.slice(index + 1);
    const simple = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (simple) {
      out += values[simple[0]] ?? "";
      index += simple[0].length;
      continue;
    }
    const braced = /^\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}/.exec(rest);
    if (braced) {
      const [whole, name, operator, word] = braced as unknown as [string, string, string | undefined, string | undefined];
      const value = values[name];
      const set = value !== undefined;
      const nonEmpty = set && value !== "";
      const expandedWord = substitute(word ?? "", values, escapeCharacter);
      if (operator === undefined) out += value ?? "";
      else if (operator === ":-") out += nonEmpty ? value : expandedWord;
      else if (operator === "-") out += set ? value : expandedWord;
      else if (operator === ":+") out += nonEmpty ? expandedWord : "";
      else out += set ? expandedWord : "";
      index += whole.length;
      continue;
    }
    out += char;
  }
  return out;
}
