/* Demo host page: what a host front end writes to open the save flow (see README "Embed"). */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-saveflow-open]");
    if (!link || !window.SaveFlow) return;
    event.preventDefault();
    var result = document.getElementById("saveflow-result");
    window.SaveFlow.open({ token: link.dataset.token, baseUrl: link.dataset.baseUrl }).then(function (r) {
      result.textContent = "Outcome: " + r.outcome + (r.offer ? " (" + r.offer.kind + ")" : "");
      result.dataset.outcome = r.outcome;
      result.dataset.sessionId = r.sessionId || "";
      // A real host would refresh its own view of the subscription here; the demo mints a fresh token.
      link.dataset.stale = "true";
    });
  });
})();
