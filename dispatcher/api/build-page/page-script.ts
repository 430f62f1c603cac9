// The page's inline script: follows GET /v1/builds/{id}/events and updates
// the server-rendered page in place. Everything from the stream is written
// with textContent, never as HTML, so a log line cannot become markup.
// Plain ES2017 in a string: it runs in the browser as is, with no build step.
export const pageScript = `
(function () {
  "use strict";
  var body = document.body;
  var finals = { succeeded: 1, failed: 1, cancelled: 1, error: 1 };
  if (finals[body.dataset.state] || !window.EventSource) return;
  var live = document.getElementById("live");
  var rows = {};
  document.querySelectorAll("tr[data-slug]").forEach(function (row) { rows[row.dataset.platform] = row; });
  var logs = {};
  document.querySelectorAll("pre[data-platform]").forEach(function (pre) { logs[pre.dataset.platform] = pre; });

  function setState(el, state) {
    el.textContent = state;
    el.className = "state state-" + state;
  }
  function field(row, name) { return row.querySelector('[data-field="' + name + '"]'); }
  function fmt(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m > 0 ? m + "m " + (s < 10 ? "0" : "") + s + "s" : s + "s";
  }
  function tick() {
    Object.keys(rows).forEach(function (key) {
      var row = rows[key], start = Date.parse(row.dataset.started || ""), end = Date.parse(row.dataset.finished || "");
      if (isFinite(start)) field(row, "duration").textContent = fmt(((isFinite(end) ? end : Date.now()) - start) / 1000);
    });
  }
  function showBuild(build) {
    body.dataset.state = build.state;
    setState(document.getElementById("build-state"), build.state);
    document.title = document.title.replace(/: [a-z]+ \\u00b7 dockhand$/, ": " + build.state + " \\u00b7 dockhand");
    build.platforms.forEach(function (p) {
      var row = rows[p.platform];
      if (!row) return;
      row.dataset.started = p.startedAt || "";
      row.dataset.finished = p.finishedAt || "";
      setState(field(row, "state"), p.state);
      field(row, "message").textContent = p.message || "";
      var node = field(row, "node");
      if (p.node) node.textContent = p.node;
      if (p.digest) {
        var digest = document.createElement("code");
        digest.className = "digest";
        digest.textContent = p.digest;
        digest.title = p.pushRef ? p.pushRef + "@" + p.digest : p.digest;
        field(row, "digest").replaceChildren(digest);
      } else if (finals[p.state]) {
        field(row, "digest").textContent = "none";
      }
    });
    tick();
  }
  function appendLine(entry) {
    var pre = logs[entry.platform];
    if (!pre) return;
    var empty = pre.querySelector(".empty");
    if (empty) empty.remove();
    var stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    if (pre.lastChild) pre.appendChild(document.createTextNode("\\n"));
    var line = document.createElement("span");
    line.className = "line";
    var step = document.createElement("span");
    step.className = "step";
    step.textContent = entry.step;
    line.appendChild(step);
    line.appendChild(document.createTextNode(entry.line));
    pre.appendChild(line);
    if (stick) pre.scrollTop = pre.scrollHeight;
  }

  var url = body.dataset.events + (body.dataset.resume ? "?resume=" + encodeURIComponent(body.dataset.resume) : "");
  var source = new EventSource(url);
  var timer = setInterval(tick, 1000);
  source.onopen = function () { live.hidden = false; };
  source.onerror = function () { live.hidden = true; };
  source.addEventListener("state", function (event) { showBuild(JSON.parse(event.data)); });
  source.addEventListener("log", function (event) { appendLine(JSON.parse(event.data)); });
  source.addEventListener("end", function (event) {
    source.close();
    clearInterval(timer);
    live.hidden = true;
    var footer = document.querySelector("footer p");
    if (footer && footer.firstChild) footer.firstChild.textContent = "This build has ended (" + JSON.parse(event.data).state + "). ";
  });
})();
`;
