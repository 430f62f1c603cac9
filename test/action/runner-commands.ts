// What the GitHub Actions runner does with a step's output lines: it reads
// workflow commands from them and acts on them. A copy of its rules
// (actions/runner src/Runner.Common/ActionCommand.cs, TryParseV2 then
// TryParse; src/Runner.Worker/ActionCommandManager.cs, TryProcessCommand), so
// a test can see what a real runner would have done with what the Action
// printed: outputs and state set, values masked, annotations, groups.
//
// - `::name k=v,k2=v2::data`, after leading whitespace is trimmed;
// - `##[name k=v;k2=v2]data`, anywhere in the line (the legacy form);
// - only registered command names count; names compare case-insensitively;
// - after `::stop-commands::TOKEN` nothing is acted on until a command named
//   TOKEN (`::TOKEN::` or `##[TOKEN]`), which the runner registers for that.

export interface WorkflowCommand {
  name: string;
  properties: Record<string, string>;
  data: string;
  /** The output line it came from. */
  line: string;
}

export interface CommandEffects {
  /** Every command the runner acted on, in order (stop-commands and its resume included). */
  acted: WorkflowCommand[];
  /** Lines with a command the runner read but ignored, because commands were stopped. */
  ignored: string[];
  /** `::set-output::` (deprecated but still honoured). */
  outputs: Record<string, string>;
  /** `::save-state::` (deprecated but still honoured): what the post step would get as STATE_*. */
  state: Record<string, string>;
  masks: string[];
  annotations: { kind: "error" | "warning" | "notice"; properties: Record<string, string>; message: string }[];
  /** Still stopped when the output ended: the runner would have ignored every later command of the step. */
  stoppedAtEnd: boolean;
}

const runnerCommands = ["add-mask", "add-matcher", "add-path", "debug", "echo", "endgroup", "error", "group", "notice", "remove-matcher", "save-state", "set-env", "set-output", "warning"];

const unescape = (text: string, mappings: [string, string][]) => mappings.reduce((out, [escaped, raw]) => out.split(escaped).join(raw), text);
const dataEscapes: [string, string][] = [["%0D", "\r"], ["%0A", "\n"], ["%25", "%"]];
const propertyEscapes: [string, string][] = [["%0D", "\r"], ["%0A", "\n"], ["%3A", ":"], ["%2C", ","], ["%25", "%"]];
const legacyEscapes: [string, string][] = [["%3B", ";"], ["%0D", "\r"], ["%0A", "\n"], ["%5D", "]"], ["%25", "%"]];

function parse(line: string, registered: ReadonlySet<string>): WorkflowCommand | undefined {
  const trimmed = line.trimStart();
  if (trimmed.startsWith("::")) {
    const end = trimmed.indexOf("::", 2);
    if (end >= 0) {
      const info = trimmed.slice(2, end);
      const space = info.indexOf(" ");
      const name = space < 0 ? info : info.slice(0, space);
      if (registered.has(name.toLowerCase())) {
        const properties: Record<string, string> = {};
        if (space > 0) {
          for (const pair of info.slice(space + 1).trim().split(",").filter(Boolean)) {
            const eq = pair.indexOf("=");
            if (eq > 0 && eq < pair.length - 1) properties[pair.slice(0, eq)] = unescape(pair.slice(eq + 1), propertyEscapes);
          }
        }
        return { name, properties, data: unescape(trimmed.slice(end + 2), dataEscapes), line };
      }
    }
  }
  const prefix = line.indexOf("##[");
  if (prefix < 0) return undefined;
  const close = line.indexOf("]", prefix);
  if (close < 0) return undefined;
  const info = line.slice(prefix + 3, close);
  const space = info.indexOf(" ");
  const name = space < 0 ? info : info.slice(0, space);
  if (!registered.has(name.toLowerCase())) return undefined;
  const properties: Record<string, string> = {};
  if (space > 0) {
    for (const pair of info.slice(space + 1).split(";").filter(Boolean)) {
      const eq = pair.indexOf("=");
      if (eq > 0 && eq < pair.length - 1) properties[pair.slice(0, eq)] = unescape(pair.slice(eq + 1), legacyEscapes);
    }
  }
  return { name, properties, data: unescape(line.slice(close + 1), legacyEscapes), line };
}

/** What a runner would have done with this output. */
export function workflowCommandEffects(output: string): CommandEffects {
  const registered = new Set([...runnerCommands, "stop-commands"]);
  const effects: CommandEffects = { acted: [], ignored: [], outputs: {}, state: {}, masks: [], annotations: [], stoppedAtEnd: false };
  let stopToken: string | undefined;
  // The runner reads lines as .NET's ReadLine does: \r\n, \n or a lone \r ends one.
  for (const line of output.split(/\r\n|\n|\r/)) {
    const command = parse(line, registered);
    if (command === undefined) continue;
    const name = command.name.toLowerCase();
    if (stopToken !== undefined) {
      if (name === stopToken.toLowerCase()) {
        registered.delete(stopToken.toLowerCase());
        stopToken = undefined;
        effects.acted.push(command);
      } else {
        effects.ignored.push(line);
      }
      continue;
    }
    effects.acted.push(command);
    if (name === "stop-commands") {
      stopToken = command.data;
      registered.add(stopToken.toLowerCase());
    } else if (name === "set-output" && command.properties["name"]) {
      effects.outputs[command.properties["name"]] = command.data;
    } else if (name === "save-state" && command.properties["name"]) {
      effects.state[command.properties["name"]] = command.data;
    } else if (name === "add-mask") {
      effects.masks.push(command.data);
    } else if (name === "error" || name === "warning" || name === "notice") {
      effects.annotations.push({ kind: name, properties: command.properties, message: command.data });
    }
  }
  effects.stoppedAtEnd = stopToken !== undefined;
  return effects;
}
