// Live progress: a run page ([data-progress-url]) and the runs list ([data-live-url]) follow
// server-sent `progress` events and update their progress bars and statuses in place. A run
// page reloads once when its run ends, to show the metrics computed at the end.
(function () {
  "use strict";
  if (!window.EventSource) return;

  function show(scope, p) {
    var bar = scope.querySelector("progress");
    if (bar) { bar.max = Math.max(p.total, 1); bar.value = p.done; }
    var text = scope.querySelector("[data-progress-text]");
    if (text) text.textContent = p.done + " / " + p.total + " (" + p.failed + " failed)";
    var badge = scope.querySelector("[data-status-text] .status");
    if (badge) { badge.textContent = p.status; badge.className = "status status-" + p.status; }
  }

  function follow(url, onProgress) {
    var source = new EventSource(url);
    source.addEventListener("progress", function (e) {
      var p;
      try { p = JSON.parse(e.data); } catch (_) { return; }
      onProgress(p, source);
    });
    return source;
  }

  var run = document.querySelector("[data-progress-url][data-live]");
  if (run) {
    var initial = run.getAttribute("data-status");
    follow(run.getAttribute("data-progress-url"), function (p, source) {
      show(run, p);
      if (p.terminal) {
        source.close();
        run.removeAttribute("data-live");
        if (initial !== p.status) window.location.reload();
      }
    });
  }

  var list = document.querySelector("[data-live-url]");
  if (list) {
    var open = {};
    var waiting = 0;
    Array.prototype.forEach.call(list.querySelectorAll("tr[data-live]"), function (row) {
      waiting += 1;
      open[row.getAttribute("data-run")] = row;
    });
    follow(list.getAttribute("data-live-url"), function (p, source) {
      var row = open[p.id];
      if (!row) return;
      show(row, p);
      if (p.terminal) {
        delete open[p.id];
        waiting -= 1;
        // An ended run can no longer be cancelled.
        var cancel = row.querySelector('form[action$="/cancel"]');
        if (cancel) cancel.parentNode.removeChild(cancel);
      }
      // Every run on the page has ended: stop (the server ends the stream too).
      if (waiting === 0) {
        source.close();
        list.removeAttribute("data-live-url");
      }
    });
  }
})();
