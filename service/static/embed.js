/* SaveFlow.open/prepare({token, baseUrl?, locale?}): the save flow in a modal iframe (README "Embed").
   prepare (also on hover/focus of a [data-token] trigger) loads it hidden: one token, one session. */
((w, d) => {
  var cur, spent = {}, defaultBase = new URL(d.currentScript?.src || location).origin;

  var emit = (name, detail) => w.dispatchEvent(new CustomEvent("saveflow:" + name, { detail }));
  var tag = (name, id, props, styles) => {
    var el = Object.assign(d.createElement(name), props);
    Object.assign(el.style, styles);
    el.dataset.testid = "saveflow-" + id;
    return el;
  };

  function build(o) {
    var base = (o.baseUrl || defaultBase).replace(/\/$/, ""), origin = new URL(base).origin, q = encodeURIComponent;
    var narrow = w.matchMedia("(max-width: 540px)"), root = d.documentElement.style, overflow, previousFocus, resolve;
    var x = { token: o.token, sessionId: null }, live = new AbortController();
    var on = (target, type, fn) => target.addEventListener(type, fn, { signal: live.signal, capture: 1 });
    x.promise = new Promise((r) => (resolve = r));

    var backdrop = tag("div", "backdrop", {}, { position: "fixed", inset: "0", zIndex: "2147483000", visibility: "hidden",
      background: "#0f172a8c", display: "grid", placeItems: "center" });
    var box = tag("div", "modal", { role: "dialog", ariaModal: "true", ariaLabel: "Cancel subscription" },
      { position: "relative", overflow: "hidden", background: "#fff", boxShadow: "0 24px 64px #0000005a" });
    var close = tag("button", "close", { type: "button", ariaLabel: "Close", textContent: "\u00d7" }, { position: "absolute", top: "8px",
      right: "8px", width: "36px", height: "36px", border: "0", borderRadius: "50%", background: "#ffffffe6",
      font: "22px/1 sans-serif", cursor: "pointer", color: "#0f172a" });
    var frame = tag("iframe", "iframe", { title: "Cancel subscription", src: base + "/w/start?token=" + q(o.token) +
      "&origin=" + q(location.origin) + (o.locale ? "&locale=" + q(o.locale) : "") },
      { width: "100%", height: "100%", border: "0", display: "block" });
    var layout = () => Object.assign(box.style, narrow.matches ? { width: "100%", height: "100%", borderRadius: "0" }
      : { width: "min(480px, 94vw)", height: "min(680px, 92vh)", borderRadius: "14px" });
    var step = () => emit("step", { step: x.step, sessionId: x.sessionId });
    var finish = () => {
      if (cur != x) return;
      var result = x.result || { outcome: "abandoned", sessionId: x.sessionId };
      if (!x.result && x.closeUrl) fetch(x.closeUrl, { method: "POST", keepalive: true, mode: "no-cors" }).catch(() => {});
      x.drop();
      root.overflow = overflow;
      previousFocus?.focus();
      emit("close", result);
      resolve(result);
    };

    x.drop = () => {
      live.abort();
      backdrop.remove();
      cur = null;
    };
    x.show = () => {
      x.shown = spent[x.token] = 1;
      previousFocus = d.activeElement;
      overflow = root.overflow;
      root.overflow = "hidden";
      on(d, "keydown", (e) => {
        if (e.key == "Escape") { e.preventDefault(); finish(); }
        else if (e.key == "Tab") { e.preventDefault(); (d.activeElement == close ? frame : close).focus(); }
      });
      on(d, "focusin", (e) => box.contains(e.target) || close.focus());
      backdrop.style.visibility = "";
      frame.focus();
      emit("open", { baseUrl: base });
      "step" in x && step();
    };
    on(w, "message", (e) => {
      var m = e.data;
      if (e.origin != origin || e.source != frame.contentWindow || m?.source != "saveflow") return;
      x.sessionId = m.sessionId || x.sessionId;
      x.closeUrl = m.closeUrl || x.closeUrl;
      if (m.type == "ready" || m.type == "step") {
        x.step = m.step;
        if (x.shown) step();
      } else if (m.type == "finished" && !x.result) {
        x.result = { outcome: m.outcome, sessionId: x.sessionId };
        if (m.offer) x.result.offer = m.offer;
        emit("finished", x.result);
      } else if (m.type == "close" && x.shown) setTimeout(finish);
    });
    on(close, "click", finish);
    on(backdrop, "click", (e) => e.target == backdrop && finish());
    on(narrow, "change", layout);
    layout();
    box.append(close, frame);
    backdrop.append(box);
    d.body.append(backdrop);
    return x;
  }

  var prepare = (o) => {
    if (cur?.shown || cur?.token == o.token || spent[o.token]) return;
    cur?.drop();
    cur = build(o);
  };
  var intent = (e) => {
    var t = e.target.closest?.("[data-saveflow-open][data-token]");
    if (t) prepare(t.dataset);
  };
  d.addEventListener("pointerover", intent);
  d.addEventListener("focusin", intent);
  w.SaveFlow = {
    open: (o) => {
      if (!cur?.shown) {
        spent[o.token] = 0;
        prepare(o);
        cur.show();
      }
      return cur.promise;
    },
    prepare,
    version: "2",
  };
})(window, document);
