/* Runs inside the widget iframe: tells the host page (exact origin only) about steps, the content's height and
   the outcome the server recorded, counts a prepared widget once the host opens it, moves focus to each new
   step's heading, and wires the "Close" buttons. No inline script needed. */
(function () {
  "use strict";
  var body = document.body, parentOrigin = body.dataset.parentOrigin || "", sentOutcome = "";
  var embedded = window.parent !== window && parentOrigin !== "";
  var content = document.getElementById("flow");

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
  function flowToken() {
    try {
      return JSON.parse(body.getAttribute("hx-headers") || "{}")["X-Flow-Token"] || "";
    } catch (e) {
      return "";
    }
  }
  // The done step's data attributes say it; else the event's detail (htmx 2 wraps a non-object JSON as {value}).
  // Each outcome once; a cancellation undone on its done screen ("Changed your mind?") reports again.
  function reportDone(event) {
    var done = document.querySelector('[data-step="done"]'), data = done ? done.dataset : {};
    var detail = (event && event.detail) || {};
    if (detail.value && typeof detail.value === "object") detail = detail.value;
    var outcome = data.outcome || detail.outcome;
    if (!outcome || outcome === "abandoned" || outcome === sentOutcome) return;
    sentOutcome = outcome;
    var offer = data.offerKind ? { kind: data.offerKind, id: data.offerId } : (data.outcome ? undefined : detail.offer);
    post({ type: "finished", outcome: outcome, offer: offer || undefined });
  }
  function focusHeading() {
    var field = document.querySelector("#flow-step [autofocus]"); // a refused form's field keeps the focus
    if (field) return field.focus();
    var heading = document.querySelector("#flow-step h1, #flow-step h2");
    if (heading) {
      if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: false });
    }
  }

  // The host sizes its modal to this (up to the viewport): a short step gets a short modal, and a long one
  // scrolls inside the iframe. The content never depends on the iframe's height (widget.css), so no loop.
  var lastHeight = 0;
  function reportHeight() {
    var height = content ? Math.ceil(content.getBoundingClientRect().height) : 0;
    if (height && height !== lastHeight) post({ type: "size", height: (lastHeight = height) });
  }
  if (embedded && content && window.ResizeObserver) new ResizeObserver(reportHeight).observe(content);

  // The host says when the modal opens. Focus moves to the step's heading, so the first Tab reaches the step's
  // first control (the host can only focus the iframe element, from which Tab would leave the dialog). A prepared
  // widget (loaded before the click) also becomes a session only now.
  window.addEventListener("message", function (event) {
    var url = body.dataset.openedUrl;
    if (!embedded || event.source !== window.parent || event.origin !== parentOrigin) return;
    if (!event.data || event.data.type !== "saveflow:opened") return;
    focusHeading();
    if (url) fetch(url, { method: "POST", headers: { "X-Flow-Token": flowToken() }, keepalive: true }).catch(function () {});
  });

  post({ type: "ready", step: currentStep() });
  reportHeight();
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
  // "Close" or "Keep my subscription" was posted as a plain form (clicked before this script ran): done.
  if ("closeOnLoad" in body.dataset) askToClose();

  // "Keep my subscription" in the modal: record it here and tell the host what the server recorded (the
  // HX-Trigger-After-Settle header of its answer, as for any finished step), then close. If that fails, the
  // host's close records an abandon and resolves "abandoned": both sides still agree.
  function keep(button) {
    button.disabled = true;
    fetch(button.form.action, { // the keep URL, relative to this frame, as the form posts it without JS
      method: "POST",
      headers: { "HX-Request": "true", "X-Flow-Token": flowToken() },
      body: new URLSearchParams(new FormData(button.form)),
    })
      .then(function (response) {
        var trigger = response.ok && JSON.parse(response.headers.get("HX-Trigger-After-Settle") || "{}");
        if (trigger && trigger["saveflow:finished"]) reportDone({ detail: trigger["saveflow:finished"] });
      })
      .catch(function () {})
      .then(askToClose);
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
    if (button.dataset.keepUrl && button.form) keep(button);
    else askToClose();
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
