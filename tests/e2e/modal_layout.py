"""The host page's modal around the widget, measured (issue 24 item 2), for every browser walk that opens it.

Its height follows the step's content (up to 92 % of the viewport, anchored near the top; full screen on a phone),
the close button covers nothing, and the content scrolls inside the iframe exactly when it is taller than it.
`settle_modal` waits, in the page, until the host shows the height the widget reports for what it shows now.
"""

from __future__ import annotations

from typing import Any

from playwright.async_api import FloatRect, Frame, Page, ViewportSize

from tests.e2e.pages import SETTLED

CLOSE_ROW = 44  # embed.js: the close button's own row above the iframe
IFRAME = "[data-testid=saveflow-iframe]"

# Inside the widget's document: the content's height, whether the document scrolls, and the box of every
# piece of text or control, in the iframe's viewport coordinates.
INSIDE = """() => ({
    content: document.getElementById('flow').getBoundingClientRect().height,
    scrolls: document.documentElement.scrollHeight > document.documentElement.clientHeight,
    boxes: [...document.querySelectorAll('h1, h2, p, li, label, button, a, textarea, progress')]
        .filter(el => el.getClientRects().length > 0)
        .map(el => { const r = el.getBoundingClientRect(), what = el.dataset.testid || el.tagName;
                     return {what, x: r.x, y: r.y, width: r.width, height: r.height}; }),
})"""
# The modal, its close button and its iframe in the host's viewport (as Playwright's bounding boxes), in one call.
HOST_BOXES = """() => Object.fromEntries(['modal', 'close', 'iframe'].map(id => {
  const r = document.querySelector(`[data-testid="saveflow-${id}"]`).getBoundingClientRect();
  return [id, {x: r.x, y: r.y, width: r.width, height: r.height}]; }))"""
# The iframe as the host lays it out: its width, and the content height it last applied (widget.js reports it).
HOST_SIDE = f"""() => {{ const f = document.querySelector('{IFRAME}');
  return f ? [f.clientWidth, parseFloat(f.style.height) || 0] : [0, 0]; }}"""
# The same from inside: the frame's own width, and its content's height as widget.js reports it (rounded up).
FRAME_SIDE = "() => [innerWidth, Math.ceil(document.getElementById('flow').getBoundingClientRect().height)]"


def box(found: FloatRect | None) -> dict[str, float]:
    assert found is not None, "the element has no box"
    return {"x": found["x"], "y": found["y"], "width": found["width"], "height": found["height"]}


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    """Whether two boxes ({x, y, width, height}) share any area."""
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and (a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])
    )


async def widget_frame(page: Page) -> Frame:
    handle = await page.wait_for_selector(IFRAME)
    frame = await handle.content_frame() if handle else None
    assert frame is not None
    return frame


async def settle_modal(page: Page, frame: Frame) -> None:
    """Wait until the modal shows what the widget shows now: the iframe's document has the host's width (after a
    resize) and the host applied the content height the widget reports (after a swap or a reflow), and the
    iframe's height held for three frames. Each round waits in the page (SETTLED), not by polling from here."""
    seen: list[Any] = []
    for _ in range(40):
        await page.evaluate(SETTLED)
        (width, applied), (inner, content) = await page.evaluate(HOST_SIDE), await frame.evaluate(FRAME_SIDE)
        if abs(width - inner) <= 1 and abs(applied - content) <= 1:
            return
        seen = [width, inner, applied, content]
        await page.wait_for_timeout(50)
    raise AssertionError(f"the modal never took the widget's size (host width, frame width, applied, content): {seen}")


async def modal_geometry(page: Page) -> dict[str, Any]:
    """The modal, its close button and iframe in the host's viewport, and what the widget lays out inside, once
    the modal has settled."""
    frame = await widget_frame(page)
    await settle_modal(page, frame)
    host = await page.evaluate(HOST_BOXES)
    modal, close, iframe = host["modal"], host["close"], host["iframe"]
    inside = await frame.evaluate(INSIDE)
    visible = []
    for b in inside["boxes"]:  # into the host's coordinates, clipped to what the iframe shows
        top, bottom = max(b["y"], 0), min(b["y"] + b["height"], iframe["height"])
        if bottom > top:
            x, y = iframe["x"] + b["x"], iframe["y"] + top
            visible.append({"what": b["what"], "x": x, "y": y, "width": b["width"], "height": bottom - top})
    return {
        "modal": modal,
        "close": close,
        "iframe": iframe,
        "content": inside["content"],
        "scrolls": inside["scrolls"],
        "visible": visible,
    }


def check_modal(g: dict[str, Any], viewport: ViewportSize) -> None:
    """The rules of issue 24 item 2 on whatever step is shown."""
    modal, close, iframe = g["modal"], g["close"], g["iframe"]
    covered = [b["what"] for b in g["visible"] if overlap(close, b)]
    assert not covered, f"the close button covers {covered}"
    assert close["y"] + close["height"] <= iframe["y"] + 0.5, "the close button overlaps the iframe"
    if viewport["width"] <= 540:  # a phone: full screen, whatever the content
        full = (0, 0, viewport["width"], viewport["height"])
        assert (modal["x"], modal["y"], modal["width"], modal["height"]) == full, modal
    else:  # the content's height, up to 92 % of the viewport
        limit = viewport["height"] * 0.92
        expected = min(g["content"] + CLOSE_ROW, limit)
        assert abs(modal["height"] - expected) <= 2, f"modal {modal['height']} px for {g['content']} px of content"
        # Anchored 4 % from the top, not centred: a step of another height grows or shrinks the modal
        # downwards, so what the pointer is over never jumps as a step settles.
        assert abs(modal["y"] - viewport["height"] * 0.04) <= 1
    # Content taller than the iframe scrolls inside it, and never otherwise.
    assert g["scrolls"] == (g["content"] > iframe["height"] + 1), (g["content"], iframe["height"])


async def check_modal_on(page: Page, viewport: ViewportSize) -> dict[str, Any]:
    """Settle, measure and check the modal on the screen `viewport`; returns the measurements."""
    g = await modal_geometry(page)
    check_modal(g, viewport)
    return g
