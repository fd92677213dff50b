/* SaveFlow's embed API as an ES module (types: saveflow.d.mts). Built from service/static/embed.js by
   tests/support/embed_module.py: edit embed.js, then run `python -m tests.support.embed_module`. */
const w = globalThis.window, d = w?.document;
var cur, spent = {}, defaultBase = () => { throw new TypeError("SaveFlow: pass baseUrl, the save-flow service's URL"); };
var emit = (name, detail) => w.dispatchEvent(new CustomEvent("saveflow:" + name, { detail }));
var tag = (name, id, props, css) => {
  var el = Object.assign(d.createElement(name), props);
  el.style.cssText = css;
  el.dataset.testid = "saveflow-" + id;
  return el;
};

function build(o, prepared) {
  var base = (o.baseUrl || defaultBase()).replace(/\/$/, ""), origin = new URL(base).origin, q = encodeURIComponent;
  var theme = o.theme || "light", mq = (m) => w.matchMedia(m), narrow = mq("(max-width:540px)");
  var dark = theme == "dark" || theme == "auto" && mq("(prefers-color-scheme:dark)").matches;
  var root = d.documentElement.style, overflow, previousFocus, resolve;
  var x = { token: o.token, sessionId: null }, live = new AbortController();
  var on = (target, type, fn) => target.addEventListener(type, fn, { signal: live.signal, capture: 1 });
  x.promise = new Promise((r) => (resolve = r));

  var backdrop = tag("div", "backdrop", {},
    "position:fixed;inset:0;z-index:2147483000;visibility:hidden;background:#0009;display:grid;place-items:start center");
  var box = tag("div", "modal", { role: "dialog", ariaModal: "true", ariaLabel: "Cancel subscription" });
  var close = tag("button", "close", { type: "button", ariaLabel: "Close", textContent: "×" },
    "align-self:end;flex:none;width:44px;height:44px;border:0;background:none;color:inherit;font-size:24px");
  var frame = tag("iframe", "iframe", { title: "Cancel subscription", src: base + "/w/start?token=" + q(o.token) +
    "&origin=" + q(location.origin) + "&locale=" + q(o.locale || "") + "&theme=" + q(theme) +
    "&prepared=" + prepared }, "flex:auto;min-height:0;height:60vh;border:0");
  var layout = () => (box.style.cssText = "display:flex;flex-flow:column;overflow:hidden;background:" +
    (dark ? "#111a2e;color:#e2e8f0;" : "#fff;color:#0f172a;") +
    (narrow.matches ? "width:100%;height:100%" : "width:min(480px,94vw);max-height:92vh;margin-top:4vh;border-radius:14px"));
  var step = () => emit("step", { step: x.step, sessionId: x.sessionId });
  var opened = () => x.shown && x.ready && (frame.focus(), frame.contentWindow.postMessage({ type: "saveflow:opened" }, origin));
  var finish = () => {
    if (cur != x) return;
    var result = x.result || { outcome: "abandoned", sessionId: x.sessionId };
    if (!x.result && x.closeUrl) navigator.sendBeacon(x.closeUrl);
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
    on(d, "keydown", (e) => e.key == "Escape" && finish());
    on(d, "focusin", (e) => box.contains(e.target) || close.focus());
    backdrop.style.visibility = "";
    frame.focus();
    emit("open", { baseUrl: base });
    "step" in x && step();
    opened();
  };
  on(w, "message", (e) => {
    var m = e.data, t = m?.type;
    if (e.origin != origin || e.source != frame.contentWindow || m?.source != "saveflow") return;
    x.sessionId = m.sessionId || x.sessionId;
    x.closeUrl = m.closeUrl || x.closeUrl;
    if (t == "size") frame.style.height = m.height + "px";
    else if (t == "ready" || t == "step") {
      x.step = m.step;
      x.shown && step();
      if (t == "ready") {
        x.ready = 1;
        opened();
      }
    } else if (t == "finished" && x.result?.outcome != m.outcome) {
      x.result = { outcome: m.outcome, sessionId: x.sessionId };
      if (m.offer) x.result.offer = m.offer;
      emit("finished", x.result);
    } else if (t == "close" && x.shown) setTimeout(finish);
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

var prepare = (o, p = 1) => {
  if (cur?.shown || cur?.token == o.token || spent[o.token]) return;
  cur?.drop();
  cur = build(o, p);
};
var intent = (e) => {
  var t = e.target.closest?.("[data-saveflow-open][data-token]");
  if (t) prepare(t.dataset);
};
d?.addEventListener("pointerover", intent);
d?.addEventListener("focusin", intent);
export const SaveFlow = {
  open: (o) => {
    if (!cur?.shown) {
      spent[o.token] = 0;
      prepare(o, 0);
      cur.show();
    }
    return cur.promise;
  },
  prepare,
};
export const open = SaveFlow.open;
export { prepare };
export default SaveFlow;
