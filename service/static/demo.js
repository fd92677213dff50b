/* Demo host page: what a host front end writes to open the save flow (see README "Embed"). */
(function () {
  "use strict";
  var area = document.getElementById("demo-account");
  var result = document.getElementById("saveflow-result");
  var link = document.querySelector("[data-saveflow-open]");
  var fresh = Promise.resolve(); // the account card being fetched again, with the next click's token

  // After a flow a real host re-reads its subscription and asks its backend for a new token (a used one
  // only resumes its session); the demo does both with one request for the account card.
  function refresh() {
    fresh = fetch(area.dataset.accountUrl, { headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("account card: HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        area.innerHTML = html; // our own backend's escaped HTML
        var card = area.querySelector("[data-token]");
        // The same button, not a new one: a pointer resting on it prepares nothing until it moves onto it again.
        link.dataset.token = card.dataset.token;
        link.href = card.dataset.startUrl;
      })
      .catch(function () {
        location.reload(); // the page renders the same, with a fresh token
      });
  }

  link.addEventListener("click", function (event) {
    if (!window.SaveFlow) return; // embed.js did not load: the link opens the flow as a full page
    event.preventDefault();
    fresh
      .then(function () {
        var data = link.dataset;
        return window.SaveFlow.open({ token: data.token, baseUrl: data.baseUrl, theme: data.theme });
      })
      .then(function (r) {
        result.textContent = "Outcome: " + r.outcome + (r.offer ? " (" + r.offer.kind + ")" : "");
        result.dataset.outcome = r.outcome;
        result.dataset.sessionId = r.sessionId || "";
        refresh();
      });
  });
})();
