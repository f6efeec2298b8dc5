// Live progress of a run page: follows the run's progress events and updates the page in
// place; when the run ends, reloads once to show its metrics.
(function () {
  "use strict";
  var root = document.querySelector("[data-progress-url]");
  if (!root || !window.EventSource) return;
  var source = new EventSource(root.getAttribute("data-progress-url"));
  var initial = root.getAttribute("data-status");
  source.addEventListener("progress", function (e) {
    var p;
    try { p = JSON.parse(e.data); } catch (_) { return; }
    var bar = root.querySelector("progress");
    if (bar) { bar.max = Math.max(p.total, 1); bar.value = p.done; }
    var text = root.querySelector("[data-progress-text]");
    if (text) text.textContent = p.done + " / " + p.total + " (" + p.failed + " failed)";
    var status = document.querySelector("[data-status-text]");
    if (status) { status.textContent = p.status; status.className = "status status-" + p.status; }
    if (p.terminal) {
      source.close();
      if (initial !== p.status) window.location.reload();
    }
  });
})();
