// A call's progress on its staff page, read again every 15 seconds from the call's API
// (GET /api/v1/calls/{id}/: counts only), so answers and approvals show without a reload.
(function () {
  "use strict";
  var box = document.querySelector(".call-progress[data-api]");
  if (!box) return;
  var bar = box.querySelector(".progress > span");
  var text = box.querySelector(".meta");

  function refresh() {
    fetch(box.dataset.api, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (call) {
        if (!call) return;
        var p = call.progress;
        bar.style.width = Math.min(100, Math.round((100 * p.approved) / p.target)) + "%";
        text.textContent = box.dataset.template
          .replace("%(answered)s", p.answered)
          .replace("%(approved)s", p.approved)
          .replace("%(target)s", p.target);
      })
      .catch(function () {});
  }

  setInterval(function () {
    if (!document.hidden) refresh();
  }, 15000);
})();
