// The page's only stylesheet, inlined: the page must work offline and behind
// a Content-Security-Policy that allows nothing external.
export const pageStyle = `
:root { --fg: #1f2328; --muted: #59636e; --bg: #fff; --panel: #f6f8fa; --border: #d1d9e0; --log-bg: #0d1117; --log-fg: #e6edf3;
  --ok: #1a7f37; --bad: #cf222e; --run: #9a6700; --idle: #59636e; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --panel: #151b23; --border: #3d444d; --log-bg: #010409; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 72rem; padding: 1.5rem; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 13px; }
header h1 { margin: .1rem 0; font-size: 1.6rem; word-break: break-all; }
header p { margin: .2rem 0; }
.brand, .commit, .reason, .none, footer { color: var(--muted); }
.state { display: inline-block; padding: 0 .6em; border-radius: 1em; font-weight: 600; font-size: .85rem; border: 1px solid currentColor; }
.state-succeeded { color: var(--ok); }
.state-failed, .state-error { color: var(--bad); }
.state-running { color: var(--run); }
.state-queued, .state-cancelled { color: var(--idle); }
.live { font-size: .8rem; color: var(--run); }
.live::before { content: "● "; }
table { width: 100%; border-collapse: collapse; margin: 1.25rem 0; background: var(--panel); border: 1px solid var(--border); border-radius: 6px; }
th, td { text-align: left; vertical-align: top; padding: .5rem .75rem; border-bottom: 1px solid var(--border); }
thead th { font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
tbody th a { color: inherit; }
.reason, .message { margin: .2rem 0 0; font-size: .85rem; max-width: 22rem; }
.message { color: var(--muted); }
.state-failed + .message, .state-error + .message { color: var(--bad); }
.message:empty { display: none; }
.digest { word-break: break-all; }
td[data-field="node"], td[data-field="duration"] { white-space: nowrap; }
.logs h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
pre { margin: 0; padding: .75rem 1rem; background: var(--log-bg); color: var(--log-fg); border-radius: 6px; overflow-x: auto; max-height: 70vh; overflow-y: auto; white-space: pre-wrap; word-break: break-word; }
.step { display: inline-block; min-width: 4.5em; margin-right: 1em; color: #7d8590; user-select: none; }
.empty { color: #7d8590; font-style: italic; }
footer { margin-top: 2rem; font-size: .85rem; }
`;
