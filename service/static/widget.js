/* Runs inside the widget iframe: tells the host page (exact origin only) about steps and the outcome,
   moves focus to each new step's heading, and wires the "Close" buttons. No inline script needed. */
(function () {
  "use strict";
  var body = document.body, parentOrigin = body.dataset.parentOrigin || "", finishedSent = false;
  var embedded = window.parent !== window && parentOrigin !== "";

  function post(message) {
    if (!embedded) return;
    message.source = "saveflow";
    message.sessionId = body.dataset.sessionId || null;
    message.closeUrl = body.dataset.closeUrl || null;
    window.parent.postMessage(message, parentOrigin);
  }
  function currentStep() {
    var el = document.querySelector("[data-step]");
    return el ? el.dataset.step : null;
  }
  // The done step's data attributes say it; else the event's detail (htmx 2 wraps a non-object JSON as {value}).
  function reportDone(event) {
    var done = document.querySelector('[data-step="done"]'), data = done ? done.dataset : {};
    var detail = (event && event.detail) || {};
    if (detail.value && typeof detail.value === "object") detail = detail.value;
    var outcome = data.outcome || detail.outcome;
    if (finishedSent || !outcome || outcome === "abandoned") return;
    finishedSent = true;
    var offer = data.offerKind ? { kind: data.offerKind, id: data.offerId } : (data.outcome ? undefined : detail.offer);
    post({ type: "finished", outcome: outcome, offer: offer || undefined });
  }
  function focusHeading() {
    var heading = document.querySelector("#flow-step h1, #flow-step h2");
    if (heading) {
      if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: false });
    }
  }

  post({ type: "ready", step: currentStep() });
  reportDone();

  body.addEventListener("htmx:afterSettle", function () {
    post({ type: "step", step: currentStep() });
    focusHeading();
    reportDone();
  });
  // htmx fires this from the HX-Trigger-After-Settle header.
  body.addEventListener("saveflow:finished", reportDone);

  function askToClose() {
    reportDone(); // a finished flow says so first: messages arrive in order, so the host never sees "abandoned"
    post({ type: "close" });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-saveflow-close]");
    if (!button) return;
    if (!embedded) {
      // Standalone page: a button inside a form posts /close itself; otherwise follow its return URL, if any.
      if (!button.form && button.dataset.returnUrl) location.href = button.dataset.returnUrl;
      return;
    }
    event.preventDefault();
    // "Keep my subscription": the host posts this URL instead of the close URL, so it is recorded as kept.
    if (button.dataset.keepUrl) body.dataset.closeUrl = button.dataset.keepUrl;
    askToClose();
  });

  // Esc inside the iframe never reaches the host page's listener, so ask the host to close.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && embedded) askToClose();
  });

  // Plain (non-htmx) form posts: disable the clicked button so a double click submits once.
  document.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    if (submitter && !event.target.hasAttribute("hx-post")) setTimeout(function () { submitter.disabled = true; }, 0);
  });
})();
