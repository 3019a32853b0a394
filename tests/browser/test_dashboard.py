"""The dashboard in a real headless Chromium (Debian's chromium + chromedriver, driven
by Selenium): starts `vigil serve --demo` on a free 127.0.0.1 port, signs in, checks the
overview's cards against /stats/summary, filters findings by severity, opens one,
enriches and acknowledges it and finds the audit entry, verifies the ledger, walks
every other page, and checks that a viewer key sees no write button. Every request the
page makes must be an operation of functions/api/openapi.json (method, path template
and query parameter names) or one of the page's own files (`/`, `/ui/*`). Screenshots
go to target/screenshots/.

Run: .venv/bin/python -m pytest tests/browser/test_dashboard.py (or run it as a script).
VIGIL_BIN names the binary (default target/debug/vigil); VIGIL_CHROMIUM and
VIGIL_CHROMEDRIVER the browser and its driver.
"""
import json
import os
import re
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "target" / "screenshots"
OPENAPI = ROOT / "functions" / "api" / "openapi.json"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Operations:
    """The OpenAPI document's operations as (method, path regex, query names)."""

    def __init__(self, doc):
        self.ops = []
        for path, item in doc["paths"].items():
            regex = re.compile("^" + re.sub(r"\{[^/}]+\}", "[^/]+", re.escape(path).replace(r"\{", "{").replace(r"\}", "}")) + "$")
            for method, op in item.items():
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue
                names = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
                self.ops.append((method.upper(), path, regex, names))

    def problem(self, method, url):
        """Why a request is not a documented call, or None when it is one."""
        u = urllib.parse.urlsplit(url)
        if method == "GET" and (u.path == "/" or u.path.startswith("/ui/")):
            return None
        for m, template, regex, names in self.ops:
            if m == method and regex.match(u.path):
                extra = set(urllib.parse.parse_qs(u.query, keep_blank_values=True)) - names
                return f"{method} {u.path}: query {sorted(extra)} not documented for {template}" if extra else None
        return f"{method} {u.path} is no operation of the OpenAPI document"


class Server:
    def __init__(self):
        # For working on the page: VIGIL_TEST_BASE + VIGIL_TEST_KEY use a running server.
        if os.environ.get("VIGIL_TEST_BASE"):
            self.base, self.admin, self.proc = os.environ["VIGIL_TEST_BASE"], os.environ["VIGIL_TEST_KEY"], None
            self.wait_for_demo()
            return
        self.dir = tempfile.TemporaryDirectory()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        binary = os.environ.get("VIGIL_BIN", str(ROOT / os.environ.get("CARGO_TARGET_DIR", "target") / "debug" / "vigil"))
        self.log = open(Path(self.dir.name) / "serve.log", "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--demo", "--addr", f"127.0.0.1:{self.port}", "--data", str(Path(self.dir.name) / "data")],
            stdout=subprocess.PIPE, stderr=self.log, text=True,
            # Loopback http lets the test's own receiver take webhook deliveries.
            env={**os.environ, "VIGIL_RATE_LIMIT_KEY_REQUESTS": "1000000", "VIGIL_RATE_LIMIT_TENANT_REQUESTS": "1000000",
                 "VIGIL_WEBHOOK_ALLOW_LOOPBACK_HTTP": "true"},
        )
        self.admin = self.proc.stdout.readline().strip()
        assert self.admin.startswith("vk_"), "vigil serve --demo printed no key"
        self.wait_for_demo()

    def call(self, path, method="GET", body=None, key=None):
        req = urllib.request.Request(self.base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {key or self.admin}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            data = r.read()
            return json.loads(data) if data else None

    def wait_for_demo(self):
        """Until the workers have processed every demo event and the counters rest."""
        last, deadline = None, time.time() + 60
        while time.time() < deadline:
            try:
                s = self.call("/stats/summary")
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
                continue
            now = (s["total_events"], s["total_findings"])
            if s["total_events"] >= 3000 and now == last:
                return
            last = now
            time.sleep(0.5)
        raise AssertionError(f"demo data never settled: {last}")

    def stop(self):
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        self.dir.cleanup()


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers 204 and counts what it got."""

    def __init__(self):
        import http.server
        import threading

        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length") or 0))
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = os.environ.get("VIGIL_CHROMIUM", "/usr/bin/chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1280,900", "--no-first-run", "--disable-extensions"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = Service(executable_path=os.environ.get("VIGIL_CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(options=opts, service=service)


class OperationsTest(unittest.TestCase):
    """The request check itself: what it lets through and what it refuses."""

    def test_matches_method_template_and_query_names(self):
        ops = Operations(json.loads(OPENAPI.read_text()))
        b = "http://127.0.0.1:1"
        for method, url in [("GET", f"{b}/"), ("GET", f"{b}/ui/app.js"), ("GET", f"{b}/findings?severity=high&limit=20"),
                            ("PATCH", f"{b}/findings/fd_1"), ("POST", f"{b}/governance/models/mdl_1/approve")]:
            self.assertIsNone(ops.problem(method, url), url)
        for method, url in [("GET", f"{b}/nope"), ("DELETE", f"{b}/findings/fd_1"), ("GET", f"{b}/findings?sev=high"),
                            ("POST", f"{b}/ui/app.js"), ("GET", f"{b}/findings/fd_1/extra")]:
            self.assertIsNotNone(ops.problem(method, url), url)


class DashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        SHOTS.mkdir(parents=True, exist_ok=True)
        cls.ops = Operations(json.loads(OPENAPI.read_text()))
        cls.server = Server()
        try:
            cls.driver = browser()
        except Exception:
            cls.server.stop()
            raise
        cls.requests = []

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        cls.server.stop()

    # -------------------------------------------------------------- helpers

    def drain(self):
        """Moves the page's requests (CDP Network events) and console errors into lists."""
        for entry in self.driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg["method"] == "Network.requestWillBeSent":
                r = msg["params"]["request"]
                if r["url"].startswith(self.server.base):
                    self.requests.append((r["method"], r["url"]))
        # A 404 the page handles (no checkpoint yet) is logged as a network error; only
        # script errors count.
        errors = [e for e in self.driver.get_log("browser") if e["level"] == "SEVERE" and e.get("source") != "network"]
        self.assertEqual(errors, [], "console errors")

    def wait(self, cond, timeout=10):
        # A page redraws its table when it loads a page of results: retry on a stale row.
        return WebDriverWait(self.driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(cond)

    def css(self, sel):
        return self.driver.find_elements(By.CSS_SELECTOR, sel)

    def loaded(self, page):
        """Goes to a page by its nav link (or hash) and waits until it has drawn."""
        self.driver.execute_script("document.getElementById('view').dataset.loaded = ''")
        self.driver.execute_script("location.hash = arguments[0]", page)
        self.wait(lambda d: d.find_element(By.ID, "view").get_attribute("data-loaded") and
                  d.find_element(By.ID, "view").get_attribute("aria-busy") == "false")
        self.assertEqual([e.text for e in self.css("#view [role=alert]")], [], f"{page} failed to load")

    def shot(self, name):
        """The whole page, not just the window."""
        import base64
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        width = self.driver.execute_script("return window.innerWidth")
        png = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": min(size["height"], 6000), "scale": 1}})
        (SHOTS / f"{name}.png").write_bytes(base64.b64decode(png["data"]))

    def flash(self, text):
        self.wait(EC.text_to_be_present_in_element((By.ID, "flash"), text))
        self.assertNotIn("Error", self.driver.find_element(By.ID, "flash").text)

    def sign_in(self, key):
        d = self.driver
        d.get(self.server.base + "/")
        box = self.wait(EC.visibility_of_element_located((By.ID, "key")))
        box.send_keys(key, Keys.ENTER)  # by keyboard: Enter submits
        self.wait(EC.visibility_of_element_located((By.ID, "nav")))
        self.wait(lambda d: d.find_element(By.ID, "view").get_attribute("data-loaded"))

    def sign_out(self):
        self.driver.find_element(By.ID, "signout").click()
        self.wait(EC.visibility_of_element_located((By.ID, "key")))

    # -------------------------------------------------------------- the walk

    def test_dashboard(self):
        s = self.server
        d = self.driver
        viewer = s.call("/keys", "POST", {"role": "viewer", "name": "dashboard viewer"})["key"]

        # Sign-in and the overview: the cards say what /stats/summary says.
        self.sign_in(s.admin)
        self.wait(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-card=total_events]")))
        summary = s.call("/stats/summary")
        sev = summary["findings_by_severity"]
        cards = {e.get_attribute("data-card"): e.text for e in self.css("[data-card]")}
        self.assertEqual(cards["total_events"], str(summary["total_events"]))
        self.assertEqual(cards["total_findings"], str(summary["total_findings"]))
        opened = summary["open_findings_by_severity"]
        self.assertEqual(cards["open_critical_high"], str(opened["critical"] + opened["high"]))
        self.assertEqual(cards["events_24h"], str(summary["events_last_24h"]))
        self.assertGreater(summary["events_last_24h"], 0)
        bars = d.find_element(By.CSS_SELECTOR, "svg.chart title").get_attribute("textContent")
        for name in ("critical", "high", "medium", "low"):
            self.assertIn(f"{name} {sev[name]}", bars)
        self.assertEqual(len(self.css("svg.chart polyline.series")), 1, "events-over-time line")
        self.assertIn(summary["top_users_by_findings"][0]["key"], d.find_element(By.ID, "view").text)
        self.assertEqual(d.find_element(By.ID, "who").text, "demo · admin")
        self.shot("overview")
        d.set_window_size(390, 844)
        time.sleep(0.3)
        self.shot("overview-phone")
        self.assertLessEqual(d.execute_script("return document.documentElement.scrollWidth"),
                             d.execute_script("return window.innerWidth") + 1, "no sideways scroll at phone width")
        d.set_window_size(1280, 900)
        self.drain()

        # Findings filtered by severity (the select applies itself).
        self.loaded("#findings")
        Select(d.find_element(By.ID, "f-severity")).select_by_value("high")
        self.wait(lambda d: self.css("tbody tr .badge") and
                  all(b.text == "high" for b in self.css("tbody tr td:first-child .badge")))
        rows = self.css("tbody tr")
        self.assertTrue(0 < len(rows) <= 20, "one page of at most 20")
        self.assertTrue(self.css("#enrich-all"), "an admin may enrich all")
        self.shot("findings")
        d.set_window_size(390, 844)
        time.sleep(0.3)
        self.shot("findings-phone")
        self.assertLessEqual(d.execute_script("return document.documentElement.scrollWidth"),
                             d.execute_script("return window.innerWidth") + 1, "the table scrolls, not the page")
        d.set_window_size(1280, 900)
        # User and date range (of first sighting, the last column) too: Enter submits.
        user = summary["top_users_by_findings"][0]["key"]
        Select(d.find_element(By.ID, "f-severity")).select_by_value("")
        self.wait(lambda d: {b.text for b in self.css("tbody tr td:first-child .badge")} != {"high"})
        d.find_element(By.ID, "f-user").send_keys(user, Keys.ENTER)
        self.wait(lambda d: self.css("tbody tr td:nth-child(4)") and
                  all(c.text == user for c in self.css("tbody tr td:nth-child(4)")))
        day = summary["events_over_time"][-2]["date"]
        for box in ("f-from", "f-to"):
            d.execute_script("arguments[0].value = arguments[1]", d.find_element(By.ID, box), day)
        d.find_element(By.ID, "f-user").send_keys(Keys.ENTER)
        self.wait(lambda d: all(c.text.startswith(day) or c.text == "Nothing to show."
                                for c in self.css("tbody tr td:last-child")))
        for box in ("f-from", "f-to"):
            d.execute_script("arguments[0].value = ''", d.find_element(By.ID, box))
        d.find_element(By.ID, "f-user").clear()
        Select(d.find_element(By.ID, "f-severity")).select_by_value("high")
        self.wait(lambda d: self.css("tbody tr a") and
                  all(b.text == "high" for b in self.css("tbody tr td:first-child .badge")))
        link = self.css("tbody tr a")[0]
        fid = urllib.parse.unquote(link.get_attribute("href").split("#finding/")[1])
        link.click()
        self.wait(EC.presence_of_element_located((By.ID, "enrich-one")))
        self.drain()

        # Enrich it, then acknowledge it with a note.
        d.find_element(By.ID, "enrich-one").click()
        self.flash("enriched")
        self.wait(lambda d: d.find_element(By.ID, "enriched-by").text not in ("", "not enriched"))
        self.assertRegex(d.find_element(By.ID, "risk").text, r"^\d+ / 100$")
        Select(self.wait(EC.presence_of_element_located((By.ID, "t-status")))).select_by_value("acknowledged")
        note = d.find_element(By.ID, "t-note")
        note.clear()
        note.send_keys("checked with the user (browser test)")
        d.find_element(By.CSS_SELECTOR, "#triage button[type=submit]").click()
        self.flash("acknowledged")
        self.assertEqual(s.call(f"/findings/{urllib.parse.quote(fid)}")["status"], "acknowledged")
        self.shot("finding")
        self.drain()

        # The audit page shows the triage's entry; Verify says the ledger is intact.
        self.loaded("#audit")
        d.find_element(By.ID, "a-action").send_keys("finding.update")
        d.find_element(By.ID, "a-resource_id").send_keys(fid, Keys.ENTER)
        self.wait(lambda d: any("finding.update" in r.text and fid in r.text for r in self.css("tbody tr")))
        d.find_element(By.ID, "verify").click()
        self.wait(EC.text_to_be_present_in_element((By.ID, "verify-result"), "Verified: OK"))
        d.find_element(By.ID, "sign-checkpoint").click()
        self.wait(EC.text_to_be_present_in_element((By.ID, "checkpoint"), "Tree size"))
        self.shot("audit")
        self.drain()

        # AI systems, one system's classification and drift, models with PSI over time.
        self.loaded("#ai-systems")
        text = d.find_element(By.ID, "view").text
        for name in ("CV screener", "Support chatbot", "Spam filter"):
            self.assertIn(name, text)
        self.assertIn("Article 50(1)", text)
        self.assertIn("Compliance drift on Support chatbot", text)
        self.assertIn("unread", text)
        self.shot("ai-systems")
        d.find_element(By.LINK_TEXT, "Support chatbot").click()
        self.wait(EC.text_to_be_present_in_element((By.ID, "view"), "Drift events"))
        self.wait(EC.text_to_be_present_in_element((By.ID, "view"), "classifier_version_change"))
        self.assertIn("Article 50", d.find_element(By.ID, "view").text)
        self.shot("ai-system")
        self.loaded("#models")
        d.find_element(By.LINK_TEXT, "credit-scorer").click()
        self.wait(EC.presence_of_element_located((By.CSS_SELECTOR, "svg.chart.line polyline.series")))
        self.assertEqual(len(self.css("svg.chart.line polyline.series")), 3, "one PSI line per feature")
        self.assertEqual(len(self.css("svg.chart.line line.band")), 2, "warning and critical bands")
        self.assertIn("CRITICAL", d.find_element(By.ID, "view").text)
        self.shot("model")
        self.drain()

        # Governance: pending approvals with decisions for an admin; approve the prompt.
        self.loaded("#governance")
        approve = [b for b in self.css("button") if b.text == "Approve"]
        self.assertEqual(len(approve), 3, "a pending model, a pending prompt and a risk request")
        self.assertIn("REQUIRES APPROVAL", d.find_element(By.ID, "view").text)
        self.assertIn("prompt not approved", d.find_element(By.ID, "view").text)
        self.shot("governance")
        risk = [b for b in approve if (b.get_attribute("aria-label") or "").startswith("Approve request")]
        self.assertEqual(len(risk), 1, "the CV screener's request waits for an approver")
        risk[0].click()
        self.flash("approved")
        # The page redraws itself after a decision: the request has left the list.
        self.wait(lambda d: len([b for b in self.css("button") if b.text == "Approve"]) == 2)
        approve = [b for b in self.css("button") if b.text == "Approve"]
        approve[-1].click()
        self.flash("approved")
        self.drain()

        # Webhooks: the demo endpoint and its deliveries; then one at the test's receiver,
        # whose delivered test message the page sends again.
        self.loaded("#webhooks")
        self.assertIn("hooks.example.com", d.find_element(By.ID, "view").text)
        self.shot("webhooks")
        d.find_element(By.PARTIAL_LINK_TEXT, "hooks.example.com").click()
        self.wait(EC.text_to_be_present_in_element((By.ID, "view"), "finding.created"))
        self.shot("webhook")
        receiver = Receiver()
        try:
            hook = s.call("/webhooks", "POST", {"url": receiver.url, "event_types": ["model.drift_detected"]})
            s.call(f"/webhooks/{hook['id']}/test", "POST")
            deadline = time.time() + 15
            while time.time() < deadline and not receiver.hits:
                time.sleep(0.2)
            self.assertEqual(len(receiver.hits), 1, "the test message was delivered")
            self.loaded(f"#webhook/{hook['id']}")
            self.wait(EC.text_to_be_present_in_element((By.ID, "view"), "delivered"))
            redeliver = [b for b in self.css("#view button") if b.text == "Redeliver"]
            self.assertEqual(len(redeliver), 1)
            redeliver[0].click()
            self.flash("queued again")
            deadline = time.time() + 15
            while time.time() < deadline and len(receiver.hits) < 2:
                time.sleep(0.2)
            self.assertEqual(len(receiver.hits), 2, "redelivered")
            self.shot("webhook-redelivered")
        finally:
            receiver.stop()
        self.drain()
        self.sign_out()

        # A viewer sees every page and no write button.
        self.sign_in(viewer)
        self.assertEqual(d.find_element(By.ID, "who").text, "demo · viewer")
        self.loaded("#findings")
        self.assertEqual(self.css("#enrich-all"), [])
        self.loaded(f"#finding/{urllib.parse.quote(fid)}")
        self.assertEqual(self.css("#enrich-one") + self.css("#triage"), [])
        self.assertIn("acknowledged", d.find_element(By.ID, "view").text)
        self.shot("finding-viewer")
        self.loaded("#audit")
        self.assertEqual(self.css("#verify") + self.css("#sign-checkpoint"), [])
        self.assertIn("analyst role", d.find_element(By.ID, "audit-role").text)
        self.loaded("#governance")
        self.assertEqual([b for b in self.css("#view button") if b.text in ("Approve", "Reject")], [])
        self.loaded("#webhooks")
        self.assertEqual([b for b in self.css("#view button") if b.text == "Redeliver"], [])
        for page in ("#overview", "#ai-systems", "#models"):
            self.loaded(page)
        self.drain()

        # Every request was a documented API call or one of the page's files.
        self.assertGreater(len(self.requests), 20)
        problems = sorted({p for p in (self.ops.problem(m, u) for m, u in self.requests) if p})
        self.assertEqual(problems, [], "requests outside the OpenAPI document")
        called = {(m, urllib.parse.urlsplit(u).path) for m, u in self.requests}
        for needed in (("GET", "/whoami"), ("GET", "/stats/summary"), ("POST", "/audit/verify"),
                       ("PATCH", f"/findings/{fid}")):
            self.assertIn(needed, called)


if __name__ == "__main__":
    unittest.main(verbosity=2)
