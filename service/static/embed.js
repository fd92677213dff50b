/* SaveFlow.open({token, baseUrl?, locale?}) -> Promise<{outcome, sessionId, offer?}>.
   Messages are accepted only from the widget's exact origin and iframe. Full screen on phones; Tab stays
   in the dialog; closing early POSTs the widget's absolute closeUrl, as given, so the service (not the
   host) records "abandoned"; "close" waits a tick for the iframe's key. */
(function (w, d) {
  "use strict";
  var script = d.currentScript, defaultBase = script ? new URL(script.src).origin : location.origin;
  var open = null;

  function css(el, styles) { for (var k in styles) el.style[k] = styles[k]; return el; }
  function emit(name, detail) { w.dispatchEvent(new CustomEvent("saveflow:" + name, { detail: detail })); }

  function start(options) {
    if (open) return open.promise;
    var base = (options.baseUrl || defaultBase).replace(/\/$/, ""), origin = new URL(base).origin;
    var src = base + "/w/start?token=" + encodeURIComponent(options.token) +
      "&origin=" + encodeURIComponent(location.origin) + (options.locale ? "&locale=" + encodeURIComponent(options.locale) : "");
    var narrow = w.matchMedia("(max-width: 540px)"), previousFocus = d.activeElement;
    var root = d.documentElement.style, previousOverflow = root.overflow;
    var state = { sessionId: null, closeUrl: null, result: null }, resolve;
    var promise = new Promise(function (r) { resolve = r; });

    var backdrop = css(d.createElement("div"), { position: "fixed", inset: "0", zIndex: "2147483000",
      background: "rgba(15,23,42,.55)", display: "flex", alignItems: "center", justifyContent: "center" });
    var box = css(d.createElement("div"), { position: "relative", overflow: "hidden",
      background: "#fff", boxShadow: "0 24px 64px rgba(0,0,0,.35)" });
    function layout() {
      var n = narrow.matches;
      css(box, { width: n ? "100%" : "min(480px, 94vw)", height: n ? "100%" : "min(680px, 92vh)", borderRadius: n ? "0" : "14px" });
    }
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-modal", "true");
    box.setAttribute("aria-label", "Cancel subscription");
    box.dataset.testid = "saveflow-modal";
    var close = css(d.createElement("button"), { position: "absolute", top: "8px", right: "8px",
      width: "36px", height: "36px", border: "0", borderRadius: "50%", background: "rgba(255,255,255,.9)",
      font: "22px/1 system-ui, sans-serif", cursor: "pointer", color: "#0f172a" });
    close.type = "button";
    close.textContent = "\u00d7";
    close.setAttribute("aria-label", "Close");
    close.dataset.testid = "saveflow-close";
    var frame = css(d.createElement("iframe"), { width: "100%", height: "100%", border: "0", display: "block" });
    frame.src = src;
    frame.title = "Cancel subscription";
    frame.dataset.testid = "saveflow-iframe";
    box.appendChild(close);
    box.appendChild(frame);
    backdrop.appendChild(box);

    function finish() {
      if (!open) return;
      var result = state.result || { outcome: "abandoned", sessionId: state.sessionId };
      if (!state.result && state.sessionId && state.closeUrl) {
        fetch(state.closeUrl, { method: "POST", keepalive: true, mode: "no-cors" }).catch(function () {});
      }
      w.removeEventListener("message", onMessage);
      d.removeEventListener("keydown", onKey, true);
      d.removeEventListener("focusin", onFocus);
      narrow.removeEventListener("change", layout);
      backdrop.remove();
      root.overflow = previousOverflow;
      if (previousFocus && previousFocus.focus) previousFocus.focus();
      open = null;
      emit("close", result);
      resolve(result);
    }
    function onMessage(event) {
      var m = event.data;
      if (event.origin !== origin || event.source !== frame.contentWindow || !m || m.source !== "saveflow") return;
      if (m.sessionId) state.sessionId = m.sessionId;
      if (m.closeUrl) state.closeUrl = m.closeUrl;
      if (m.type === "ready" || m.type === "step") emit("step", { step: m.step, sessionId: state.sessionId });
      else if (m.type === "finished" && !state.result) {
        state.result = { outcome: m.outcome, sessionId: state.sessionId };
        if (m.offer) state.result.offer = m.offer;
        emit("finished", state.result);
      } else if (m.type === "close") setTimeout(finish);
    }
    function onKey(event) {
      if (event.key === "Escape") { event.preventDefault(); finish(); }
      else if (event.key === "Tab") {
        var target = d.activeElement === close ? frame : close;
        event.preventDefault();
        target.focus();
      }
    }
    function onFocus(event) { if (!box.contains(event.target)) close.focus(); }
    close.addEventListener("click", finish);
    backdrop.addEventListener("click", function (event) { if (event.target === backdrop) finish(); });
    w.addEventListener("message", onMessage);
    d.addEventListener("keydown", onKey, true);
    d.addEventListener("focusin", onFocus);
    narrow.addEventListener("change", layout);
    layout();
    root.overflow = "hidden";
    d.body.appendChild(backdrop);
    frame.focus();
    open = { promise: promise };
    emit("open", { baseUrl: base });
    return promise;
  }

  w.SaveFlow = { open: start, version: "1" };
})(window, document);
