"""The course site in a real browser: build it (tools/site.py, a small tools/explorer.py run, the
slides) into a temporary folder, serve it on 127.0.0.1, open every page, deck and the explorer in
headless Chromium (Debian's, driven over its DevTools protocol through a pipe) and fail on what a
reader would see go wrong. A screenshot of each page goes to out/site-screens/ to be looked at."""

import base64
import json
import os
import re
import select
import shutil
import subprocess
import sys
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium")
SCREENS = ROOT / "out" / "site-screens"
WINDOW = 1280  # px: no page may be wider than a window this wide
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
PAGES = ["index.html", "readme.html", "model-card.html", "benchmarks.html"] + [f"notebooks/{n}.html" for n in NOTEBOOKS]
DECKS = [f"slides/{n}.html" for n in NOTEBOOKS]

NEEDS = "the site's browser test needs Debian's chromium and MathJax: apt-get install chromium libjs-mathjax"
MISSING = CHROMIUM is None or not Path("/usr/share/javascript/mathjax").is_dir()
pytestmark = [
    pytest.mark.slow,  # two minutes on one CPU thread: `make test` runs it, `make test-fast` does not
    pytest.mark.skipif(MISSING and not os.environ.get("CI"), reason=NEEDS),  # in CI (.ci/run installs both), fail
]


class Chromium:
    """Headless Chromium and one tab, over the DevTools protocol (--remote-debugging-pipe): JSON
    messages ended by a NUL byte, which Chromium reads from its fd 3 and writes to its fd 4."""

    def __init__(self, profile):
        to_chromium, self.writer = os.pipe()
        self.reader, from_chromium = os.pipe()
        flags = [
            "--headless",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--hide-scrollbars",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            # Nothing can leave the machine, and trying is seen below as a request to another host.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        ]
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{to_chromium} 4>&{from_chromium}', "bash", CHROMIUM, *flags, "about:blank"],
            pass_fds=(to_chromium, from_chromium),
            stdout=subprocess.DEVNULL,
            stderr=open(Path(profile) / "chromium.log", "w"),  # noqa: SIM115  (for as long as Chromium runs)
        )
        os.close(to_chromium)
        os.close(from_chromium)
        self.count, self.buffer, self.replies, self.events, self.session = 0, b"", {}, [], None
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Network", "Runtime"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=WINDOW, height=800, deviceScaleFactor=1, mobile=False)

    def receive(self, timeout=60):
        if not select.select([self.reader], [], [], timeout)[0]:
            raise TimeoutError(f"Chromium said nothing for {timeout} s")
        chunk = os.read(self.reader, 1 << 20)
        assert chunk, "Chromium closed its DevTools pipe"
        *messages, self.buffer = (self.buffer + chunk).split(b"\0")
        for message in map(json.loads, messages):
            if "id" in message:
                self.replies[message["id"]] = message
            else:
                self.events.append(message)

    def send(self, method, **params):
        self.count += 1
        message = {"id": self.count, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self.writer, json.dumps(message).encode() + b"\0")
        while self.count not in self.replies:
            self.receive()
        reply = self.replies.pop(self.count)
        assert "error" not in reply, f"{method}: {reply['error']}"
        return reply["result"]

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, f"{expression[:60]}: {result['exceptionDetails']}"
        return result["result"].get("value")

    def wait(self, expression, timeout=60):
        end = time.monotonic() + timeout
        while not self.evaluate(expression):
            assert time.monotonic() < end, f"still not true after {timeout} s: {expression}"
            time.sleep(0.1)

    def open(self, url):
        """Load `url`, wait for it and its mathematics; the requests it made, and those that failed."""
        self.events.clear()
        self.send("Page.navigate", url=url)
        end = time.monotonic() + 60
        while not any(e["method"] == "Page.loadEventFired" for e in self.events):
            self.receive(max(0.1, end - time.monotonic()))
        self.wait("!window.MathJax || document.documentElement.dataset.typeset === 'done'")
        while select.select([self.reader], [], [], 0.3)[0]:  # the events that came late
            self.receive()
        urls = {
            e["params"]["requestId"]: e["params"]["request"]["url"]
            for e in self.events
            if e["method"] == "Network.requestWillBeSent"
        }
        failed = [
            f"{urls.get(e['params']['requestId'], '?')}: {e['params']['errorText']}"
            for e in self.events
            if e["method"] == "Network.loadingFailed"
        ]
        failed += [
            f"{e['params']['response']['url']}: HTTP {e['params']['response']['status']}"
            for e in self.events
            if e["method"] == "Network.responseReceived" and e["params"]["response"]["status"] >= 400
        ]
        return list(urls.values()), failed

    def screenshot(self, path, full=True):
        height = min(self.evaluate("document.documentElement.scrollHeight"), 16000) if full else 800
        clip = {"x": 0, "y": 0, "width": WINDOW, "height": height, "scale": 1}
        data = self.send("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=full)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def picture(self, element):
        """A screenshot of what `element` (a JavaScript expression) shows now, scrolled into view
        (Chromium does not animate a picture out of view)."""
        box = self.evaluate(
            f"(() => {{ const e = {element}; e.scrollIntoView({{block: 'center'}});"
            " const r = e.getBoundingClientRect();"
            " return {x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height}; })()"
        )
        return self.send("Page.captureScreenshot", format="png", clip={**box, "scale": 1})["data"]

    def close(self):
        os.close(self.writer)
        self.process.wait(timeout=30)


# What the page shows a reader, measured in the page: broken pictures, the text fallback of an output
# that was not rendered, mathematics left as TeX, and the page's width.
INSPECT = r"""(() => {
  const images = [...document.images];
  const text = document.body.innerText;
  const tex = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode()); ) {
    if (node.parentElement.closest("pre, code, script, style, .MathJax_CHTML, .MathJax_Preview")) continue;
    const source = /\$[^$\s][^$]*\$|\\(frac|mathrm|sqrt|begin|left|hat)\b/;  // $...$ or a TeX command
    if (source.test(node.textContent)) tex.push(node.textContent.slice(0, 80));
  }
  return {
    broken: images.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src.slice(0, 80)),
    sizeless: images.filter(i => i.checkVisibility() && (i.width === 0 || i.height === 0)).map(i => i.src.slice(0, 80)),
    fallback: text.match(/<[\w.]+ object( at 0x[0-9a-f]+)?>|\b[VH]Box\(children=|IntSlider\(/g) || [],
    tex: tex,
    math_errors: document.querySelectorAll(".MathJax_Error, .mjx-merror, merror").length,
    width: document.documentElement.scrollWidth,
  };
})()"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built from this checkout into a temporary folder and served on 127.0.0.1."""
    assert not MISSING, f"{NEEDS} (.ci/run installs them)"
    out = tmp_path_factory.mktemp("site")
    small = ["--steps", "6", "--seeds", "0", "1", "--guidance", "1", "4"]  # the explorer's page, from a few runs
    for command in (["tools/explorer.py", *small], ["tools/site.py", "--slides"], ["tools/site.py"]):
        subprocess.run([sys.executable, *command, "--out", str(out)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/", out
    server.shutdown()


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = Chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


def check(browser, url, name, page=True):
    """Open `url` and assert all that a reader would notice going wrong; keep a screenshot."""
    requests, failed = browser.open(url)
    away = [u for u in requests if not re.match(r"(data|blob|about):|http://127\.0\.0\.1[:/]", u)]
    assert not away, f"{name} asks the internet for {away}"
    assert not failed, f"{name}: requests failed: {failed}"
    seen = browser.evaluate(INSPECT)
    assert not seen["broken"], f"{name}: broken pictures {seen['broken']}"
    assert not (page and seen["sizeless"]), f"{name}: pictures with no size {seen['sizeless']}"
    assert not seen["fallback"], f"{name} shows the text fallback of unrendered outputs: {seen['fallback']}"
    assert not seen["tex"] and not seen["math_errors"], f"{name}: mathematics left as TeX: {seen['tex']}"
    assert seen["width"] <= WINDOW, f"{name} is {seen['width']} px wide, wider than a {WINDOW} px window"
    browser.screenshot(SCREENS / (name.replace("/", "-").removesuffix(".html") + ".png"), full=page)


@pytest.mark.parametrize("page", PAGES)
def test_page(site, browser, page):
    url, _ = site
    check(browser, url + page, page)


def test_gifs_play(site, browser):
    """Every GIF on the site animates: six moments of it, 0.4 s apart, are not all the same."""
    url, _ = site
    played = 0
    gifs = "document.querySelectorAll('img[src^=\"data:image/gif\"]')"
    for page in PAGES:
        browser.open(url + page)
        for i in range(browser.evaluate(f"{gifs}.length")):
            frames = set()
            for _ in range(6):
                frames.add(browser.picture(f"{gifs}[{i}]"))
                time.sleep(0.4)
            assert len(frames) > 1, f"{page}: GIF {i} does not move"
            played += 1
    assert played >= 3, f"only {played} GIFs on the site: notebooks 03, 04 and 05 each show one"


@pytest.mark.parametrize("deck", DECKS)
def test_deck(site, browser, deck):
    url, _ = site
    check(browser, url + deck, deck, page=False)
    assert browser.evaluate("Reveal.isReady() && Reveal.getTotalSlides()") > 3, f"{deck}: no slides"


def test_explorer(site, browser):
    """The explorer: the slider changes the pictures of both runs; another seed for run B, B's alone."""
    url, _ = site
    check(browser, url + "explorer/index.html", "explorer/index.html")
    run = "document.querySelector('#run-{}')".format
    before = {side: browser.picture(run(side)) for side in "ab"}
    browser.evaluate(
        "(() => { const s = document.querySelector('#step'); s.value = 0; s.dispatchEvent(new Event('input')); })()"
    )
    after = {side: browser.picture(run(side)) for side in "ab"}
    assert before["a"] != after["a"] and before["b"] != after["b"], "moving the slider changed no picture"
    browser.evaluate(
        "(() => { const s = document.querySelector('#seed-b'); s.selectedIndex = 1;"
        " s.dispatchEvent(new Event('change')); })()"
    )
    assert browser.picture(run("b")) != after["b"], "another seed for run B changed none of its pictures"
    assert browser.picture(run("a")) == after["a"], "another seed for run B changed run A's pictures"
