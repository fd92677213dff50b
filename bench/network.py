"""The widget on a slow phone network: bytes on open, click → first step interactive cold and prepared.

Rules: may import playwright; talks to a running service over HTTP only. Chromium (/usr/bin/chromium) on the
demo page, with CDP network emulation: PROFILE's round trip, down- and upload rates, applied to every
request of the page and of its (same-origin) widget iframe. Each run is a fresh browser context.

- **Bytes on open** (cold runs, browser cache disabled): the sum of CDP `encodedDataLength` (body as
  transferred, compressed, plus headers) over every request the click causes: the widget page and what
  it loads, up to network idle.
- **Interactive** is measured from the click to the latest of: the widget document's `domInteractive` (its
  first step is parsed, and its forms work without any script), its first contentful paint, and the host's
  next frame after the click (the modal is on screen). All three on the browser's clock.
- **Cold**: a plain click, no hover (the element's `click()`), so nothing was prepared. **Prepared**: the
  pointer hovers the trigger first (embed.js prepares on hover), the hidden widget finishes loading, then
  the click; no request may be made for the step then. The one request the click causes is the `opened`
  beacon (a prepared widget becomes a session once shown), which nothing on screen waits for.
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.async_api import Browser, Frame, Page

RUNS = 5
TRIGGER = "[data-saveflow-open]"
IDLE_MS = 400  # the network is idle once no request has been pending for this long
IDLE_CAP_S = 15.0  # ...or, at the latest, after this long: a request CDP never reports finished cannot hang a run
# Fire-and-forget POSTs (fetch keepalive, the browser process sends them): CDP reports them sent but never
# finished, and nothing on screen waits for them. Listed apart, never waited for.
BEACONS = ("/opened",)


@dataclass(frozen=True)
class Profile:
    rtt_ms: int = 150
    down_kbit_s: int = 1600
    up_kbit_s: int = 750

    def cdp(self) -> dict[str, Any]:
        return {
            "offline": False,
            "latency": self.rtt_ms,
            "downloadThroughput": self.down_kbit_s * 1000 / 8,  # bytes per second
            "uploadThroughput": self.up_kbit_s * 1000 / 8,
        }


PROFILE = Profile()

CLICK = """() => {
    const began = performance.timeOrigin + performance.now();
    document.querySelector('[data-saveflow-open]').click();  // no pointer events: nothing hovered, nothing prepared
    return new Promise(resolve => requestAnimationFrame(() => setTimeout(() =>
        resolve({began, painted: performance.timeOrigin + performance.now()}))));
}"""
READY = """() => performance.getEntriesByName('first-contentful-paint').length > 0
    && performance.getEntriesByType('navigation').length > 0
    && performance.getEntriesByType('navigation')[0].domInteractive > 0
    && document.querySelector('[data-step] form') !== null"""
TIMES = """() => ({
    interactive: performance.timeOrigin + performance.getEntriesByType('navigation')[0].domInteractive,
    painted: performance.timeOrigin + performance.getEntriesByName('first-contentful-paint')[0].startTime,
})"""


class Requests:
    """Every request the page (and its same-process iframe) makes, from CDP's Network domain."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self.done: dict[str, int] = {}
        self.beacons: list[str] = []

    def sent(self, event: dict[str, Any]) -> None:
        url = event["request"]["url"]
        if url.split("?")[0].endswith(BEACONS):
            self.beacons.append(url)
        else:
            self.urls[event["requestId"]] = url

    def finished(self, event: dict[str, Any]) -> None:
        self.done[event["requestId"]] = int(event["encodedDataLength"])

    def failed(self, event: dict[str, Any]) -> None:
        self.done[event["requestId"]] = 0

    def pending(self) -> int:
        return len(set(self.urls) - set(self.done))

    def clear(self) -> None:
        self.urls.clear()
        self.done.clear()
        self.beacons.clear()

    async def idle(self) -> None:
        quiet, waited = 0, 0.0
        while quiet < IDLE_MS and waited < IDLE_CAP_S:
            await asyncio.sleep(0.05)
            waited += 0.05
            quiet = quiet + 50 if self.pending() == 0 else 0


async def widget_frame(page: Page) -> Frame:
    handle = await page.wait_for_selector("[data-testid=saveflow-iframe]", state="attached")
    frame = await handle.content_frame() if handle else None
    if frame is None:
        raise RuntimeError("embed.js made no widget iframe")
    return frame


async def open_once(browser: Browser, base: str, *, prepared: bool) -> dict[str, Any]:
    """One click on the demo page's "Cancel subscription": ms to interactive, bytes and requests it caused."""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        cdp = await context.new_cdp_session(page)
        requests = Requests()
        cdp.on("Network.requestWillBeSent", requests.sent)
        cdp.on("Network.loadingFinished", requests.finished)
        cdp.on("Network.loadingFailed", requests.failed)
        await cdp.send("Network.enable")
        await cdp.send("Network.setCacheDisabled", {"cacheDisabled": not prepared})
        await cdp.send("Network.emulateNetworkConditions", PROFILE.cdp())
        await page.goto(f"{base}/?customer=cus_demo_ada&test=true", wait_until="load")
        await page.wait_for_function("window.SaveFlow !== undefined")
        if prepared:
            await page.hover(TRIGGER)
            frame = await widget_frame(page)
            await frame.wait_for_load_state("load")
            await frame.wait_for_function("() => window.htmx !== undefined", polling=20)
        await requests.idle()
        requests.clear()
        clicked = await page.evaluate(CLICK)
        frame = await widget_frame(page)
        await frame.wait_for_function(READY, polling=10, timeout=30_000)
        times = await frame.evaluate(TIMES)
        await requests.idle()
        ready_at = max(times["interactive"], times["painted"], clicked["painted"])
        return {
            "ms": ready_at - clicked["began"],
            "bytes": sum(requests.done.values()),
            "requests": sorted(url.split("?")[0].removeprefix(base) for url in requests.urls.values()),
            "beacons": len(requests.beacons),
        }
    finally:
        await context.close()


async def measure_network(base: str, runs: int = RUNS) -> dict[str, Any]:
    """Median of `runs` cold and `runs` prepared opens under PROFILE; bytes from the cold runs."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        cold = [await open_once(browser, base, prepared=False) for _ in range(runs)]
        prepared = [await open_once(browser, base, prepared=True) for _ in range(runs)]
        await browser.close()
    return {
        "profile": {"rtt_ms": PROFILE.rtt_ms, "down_kbit_s": PROFILE.down_kbit_s, "up_kbit_s": PROFILE.up_kbit_s},
        "runs": runs,
        "open_bytes": int(statistics.median(r["bytes"] for r in cold)),
        "open_requests": cold[0]["requests"],
        "cold_ms": round(statistics.median(r["ms"] for r in cold), 1),
        "cold_samples_ms": [round(r["ms"], 1) for r in cold],
        "prepared_ms": round(statistics.median(r["ms"] for r in prepared), 1),
        "prepared_samples_ms": [round(r["ms"], 1) for r in prepared],
        "prepared_requests": max(len(r["requests"]) for r in prepared),
        "prepared_beacons": max(r["beacons"] for r in prepared),  # the "opened" POST of a prepared widget
    }
