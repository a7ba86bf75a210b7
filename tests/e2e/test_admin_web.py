"""The admin web page (docs/admin.md) in a real browser: Debian's headless Chromium driven by Selenium 4
through Debian's chromedriver (both paths given, so Selenium Manager never downloads anything).

* The owner's round: log in; pair a stock client by typing the PIN it uses and a name; see it listed and
  rename it (a refused name shows the host's error); stream from it and watch its live stats and plots
  change, then end that session; add an app, edit it (working dir, environment), see it in the client's app
  list and launch it from the client; remove it; read the logs; unpair; log out.
* The API's guards, without a browser: a cross-origin POST, one without (or with a wrong) CSRF token, without
  Origin, or not JSON are refused and change nothing; reads need the login; a wrong password is 401 and
  repeated ones lock the address out (429); a page without a password set says how to set one.

With `LUMEN_ADMIN_SCREENSHOTS=DIR` a screenshot of each page is saved in DIR (the pictures of
docs/admin.md); without it none is taken.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import moonlight_helpers as mh  # noqa: E402
from test_session import _client_cmd  # noqa: E402
from waits import wait_until  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
BROWSER_ARGS = ["--headless=new", "--no-sandbox", "--ignore-certificate-errors", "--disable-gpu",
                "--disable-dev-shm-usage", "--window-size=1280,900"]
PASSWORD = "correct horse battery staple"
SHOTS = os.environ.get("LUMEN_ADMIN_SCREENSHOTS")

# The host's own (self-signed) certificate: requests here do not verify it.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


# ---------------------------------------------------------------------------------------------- fixtures

def set_password(binary: Path, state_dir: Path, password: str) -> None:
    """`lumen-session admin-password` reading the password as one line from stdin (not a terminal)."""
    p = subprocess.run([str(binary), "--state-dir", str(state_dir), "admin-password"], input=password + "\n",
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"admin-password failed ({p.returncode}): {p.stdout}{p.stderr}"


@pytest.fixture
def admin_host(lumen_host, lumen_bin, tmp_path):
    """Factory: a `lumen-session` (software encoder, private XDG_RUNTIME_DIR, a config file for the apps the
    page adds) whose admin password is set before it starts unless `password=None`; waits until the page
    answers. The host gets `.web` (the page's origin) and `.config` (the config file)."""

    def make(*args, password: str | None = PASSWORD):
        n = time.monotonic_ns()
        rt = tmp_path / f"rt-{n}"
        rt.mkdir(mode=0o700)
        state = tmp_path / f"admin-state-{n}"
        state.mkdir(mode=0o700)
        config = tmp_path / f"lumen-{n}.toml"
        config.write_text("# apps added on the admin page are saved here\n")
        if password is not None:
            set_password(lumen_bin, state, password)
        env = {"XDG_RUNTIME_DIR": str(rt), "GSK_RENDERER": "cairo", "WAYLAND_DISPLAY": "", "DISPLAY": ""}
        host = lumen_host("--encoder", "software", "--socket", "lumen-session-test", "--config", str(config),
                          *args, state_dir=state, env=env)
        host.web = f"https://{host.address}:{host.port_base + 1}"
        host.config = config
        wait_until(lambda: requests.get(host.web + "/api/auth", verify=False, timeout=5).ok, 15,
                   "the admin page to answer", ignore=(requests.RequestException,),
                   detail=lambda: host.log()[-3000:])
        return host

    return make


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for p in (CHROMIUM, CHROMEDRIVER):
        if not p.exists():
            pytest.fail(f"{p} is missing: apt-get install chromium chromium-driver (scripts/deps/admin.apt)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for a in BROWSER_ARGS + [f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=opts)
    try:
        yield driver
    finally:
        driver.quit()


# ----------------------------------------------------------------------------------------------- helpers

def shot(driver, name: str) -> None:
    """Saves a screenshot as DIR/admin-NAME.png when LUMEN_ADMIN_SCREENSHOTS=DIR is set."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(SHOTS) / f"admin-{name}.png"))


class Page:
    """The admin page in the browser, with waits that show the page's banner and the host's log."""

    def __init__(self, driver, host):
        self.d = driver
        self.host = host

    def find(self, css: str, within=None) -> list:
        from selenium.webdriver.common.by import By

        return [e for e in (within or self.d).find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]

    def one(self, css: str, within=None):
        found = self.find(css, within)
        assert len(found) == 1, f"{len(found)} visible elements match {css!r}"
        return found[0]

    def banner(self) -> str:
        b = self.find("[data-testid=banner]")
        return f"{b[0].get_attribute('data-kind')}: {self.one('#banner-text').text}" if b else "(no banner)"

    def detail(self) -> str:
        return f"page banner: {self.banner()}\nhost log:\n{self.host.log()[-3000:]}"

    def wait(self, probe, what: str, timeout: float = 20.0, **kw):
        from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

        # Not yet: an element replaced or not there yet, or a row not found (None, an empty list).
        return wait_until(probe, timeout, what, ignore=(StaleElementReferenceException, NoSuchElementException,
                                                        AssertionError, AttributeError, IndexError),
                          detail=self.detail, **kw)

    def wait_css(self, css: str, what: str, timeout: float = 20.0):
        return self.wait(lambda: self.find(css), what, timeout)

    def type(self, css: str, text: str, within=None) -> None:
        e = self.one(css, within)
        e.clear()
        e.send_keys(text)

    def tab(self, name: str) -> None:
        self.one(f"#tab-{name}").click()
        self.wait(lambda: self.find(f"#panel-{name}"), f"the {name} tab")

    def accept_confirm(self) -> None:
        from selenium.common.exceptions import NoAlertPresentException

        wait_until(lambda: self.d.switch_to.alert, 5, "the confirmation dialog",
                   ignore=(NoAlertPresentException,)).accept()

    def row(self, testid: str, text: str):
        """The visible row of `testid` whose text contains `text` (None when there is none)."""
        rows = [r for r in self.find(f"[data-testid={testid}]") if text in r.text]
        return rows[0] if rows else None

    def info_banner(self, needle: str, what: str):
        self.wait(lambda: self.banner().startswith("info:") and needle in self.banner(), what)


def client_app_names(host, cfg) -> list[str]:
    """The app list the stock client gets (`/applist` over its pinned HTTPS)."""
    return [a.name for a in mh.attach_client(host, cfg)._http.get_app_list()]


def session_cards(page: Page) -> list[dict]:
    out = []
    for card in page.find("[data-testid=session-row]"):
        q = lambda k: page.one(f"[data-testid=session-{k}]", card).text  # noqa: E731
        out.append({"session": card.get_attribute("data-session"), "title": q("title"), "state": q("state"),
                    "frames": int(q("frames")), "fps": q("fps"), "mode": q("mode"), "codec": q("codec"),
                    "bitrate": q("bitrate"), "latency": q("latency"), "loss": q("loss"),
                    "samples": int(card.get_attribute("data-samples") or 0)})
    return out


INKED_PIXELS = "const c = arguments[0], d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; " \
               "let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n;"


def script_errors(driver) -> list[str]:
    """Errors the page's own script raised (failed requests the page handled are not errors here)."""
    return [e["message"] for e in driver.get_log("browser")
            if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]]


# ------------------------------------------------------------------------------------------------- tests

def test_owner_pairs_streams_manages_apps_and_unpairs_on_the_page(admin_host, browser, tmp_path):
    host = admin_host("--desktop-app", "weston-simple-shm")
    page = Page(browser, host)

    # Log in.
    browser.get(host.web + "/")
    page.wait_css("#login-password", "the login form")
    assert not page.find("[data-testid=login-hint]"), "the no-password hint shows although a password is set"
    shot(browser, "login")
    page.type("#login-password", "not the password")
    page.one("#login-submit").click()
    page.wait(lambda: "Wrong password" in page.one("[data-testid=login-error]").text, "the wrong-password error")
    page.type("#login-password", PASSWORD)
    page.one("#login-submit").click()
    page.wait_css("[data-testid=app-main]", "the page after logging in")

    # Pairing: the stock client asks (its pair() blocks until the owner gives the PIN it uses).
    page.tab("pairing")
    cfg = tmp_path / "client"
    paired: dict = {}

    def pair():
        try:
            paired["client"] = mh.pair_client(host, cfg, pin="4711", arm=False)
        except BaseException as e:  # noqa: BLE001 (reported by the test thread)
            paired["error"] = e

    pairing = threading.Thread(target=pair, daemon=True)
    pairing.start()
    request = page.wait_css("[data-testid=pair-request]", "the waiting pairing request", timeout=30)[0]
    assert page.one("[data-testid=pair-address]", request).text == "127.0.0.1"
    assert page.one("[data-testid=pair-since]", request).text.strip()
    page.type("[data-testid=pair-pin]", "4711", request)
    page.type("[data-testid=pair-name]", "Test TV", request)
    shot(browser, "pairing")
    page.one("[data-testid=pair-submit]", request).click()
    page.info_banner("PIN given", "the note that the PIN was given")
    pairing.join(timeout=30)
    assert not pairing.is_alive(), f"the client's pair() did not return\n{page.detail()}"
    assert "error" not in paired, f"pairing failed: {paired.get('error')!r}\n{page.detail()}"
    page.wait(lambda: not page.find("[data-testid=pair-request]"), "the pairing request to leave the list")
    assert [c["name"] for c in host.clients()] == ["Test TV"]

    # Clients: listed under the name typed; a refused rename shows the host's error, a good one applies.
    page.tab("clients")
    row = page.wait(lambda: page.row("client-row", "Test TV"), "Test TV in the client list")
    client_id = row.get_attribute("data-client-id")
    assert client_id == host.clients()[0]["id"]
    assert page.one("[data-testid=client-paired]", row).text not in ("", "—")
    page.one("[data-testid=client-rename]", row).click()
    page.type("[data-testid=client-rename-input]", "   ", row)
    page.one("[data-testid=client-rename-save]", row).click()
    page.wait(lambda: page.banner().startswith("error:") and "name" in page.banner(), "the refused rename's error")
    page.type("[data-testid=client-rename-input]", "Living room TV", row)
    page.one("[data-testid=client-rename-save]", row).click()
    page.wait(lambda: page.row("client-row", "Living room TV"), "the new name in the list")
    assert [c["name"] for c in host.clients()] == ["Living room TV"]
    shot(browser, "clients")

    # Sessions: a stream from the client (held open until the page ends it).
    client_log = tmp_path / "stream-client.log"
    with open(client_log, "w") as err:
        stream = subprocess.Popen(_client_cmd(host, cfg, [["wait_frame", ["any"], 30], ["hang"]], fps=60),
                                  stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        line = stream.stdout.readline()  # the client prints once it decoded a frame (or failed)
        assert json.loads(line or "{}").get("result") == "started", \
            f"the client did not stream: {line}\n{client_log.read_text()[-3000:]}\n{host.log()[-3000:]}"
        page.wait(lambda: page.row("client-row", "Living room TV").get_attribute("data-streaming") == "true",
                  "the client to show as streaming")
        page.tab("sessions")
        first = page.wait(lambda: session_cards(page), "the session on the Sessions tab")[0]
        assert first["title"].startswith("Living room TV"), first
        assert first["mode"] == "1280x720@60" and first["codec"] == "h264", first
        # Its stats move from poll to poll: frames sent grow, fps (computed by the page) is measured, and the
        # plots fill (further for the screenshot).
        samples = 20 if SHOTS else 4
        later = page.wait(lambda: session_cards(page)[0], "the frame count to grow and fps to be measured",
                          until=lambda c: c["frames"] > first["frames"] and c["fps"] != "—"
                          and c["samples"] >= samples, timeout=20 + samples)
        assert 0 < float(later["fps"]) < 200, later
        assert later["latency"].endswith("ms") and later["loss"].endswith("%"), later
        card = page.one("[data-testid=session-row]")
        for plot in ("fps", "bitrate", "latency"):
            canvas = page.one(f"[data-testid=session-plot-{plot}]", card)
            assert browser.execute_script(INKED_PIXELS, canvas) > 20, f"the {plot} plot is empty"
        shot(browser, "sessions")

        # End it from the page: the session goes, on the page and in the host.
        page.one("[data-testid=session-end]", card).click()
        page.accept_confirm()
        page.wait(lambda: page.find("[data-testid=sessions-empty]"), "the session to leave the list")
        wait_until(lambda: host.status()["sessions"] == [], 15, "the host to end the session",
                   detail=lambda: host.log()[-3000:])
    finally:
        stream.kill()
        stream.wait()

    # Apps: add one, then edit it (working dir and environment); the client sees it and launches it.
    page.tab("apps")
    work = tmp_path / "hello-dir"
    work.mkdir()
    command = "sh -c 'echo \"$GREETING\" > hello-ran; exec sleep 100'"
    page.type("[data-testid=app-name]", "hello")
    page.type("[data-testid=app-command]", command)
    page.one("[data-testid=app-submit]").click()
    row = page.wait(lambda: page.row("app-row", "hello"), "the added app in the list")
    assert page.one("[data-testid=app-row-command]", row).text == command
    assert "hello" in client_app_names(host, cfg)
    page.one("[data-testid=app-edit]", row).click()
    page.wait(lambda: page.one("[data-testid=app-name]").get_attribute("value") == "hello", "the edit form")
    page.type("[data-testid=app-workdir]", str(work))
    page.type("[data-testid=app-env]", "GREETING=hi from the admin page")
    shot(browser, "apps")
    page.one("[data-testid=app-submit]").click()
    page.wait(lambda: page.one("[data-testid=app-row-env]", page.row("app-row", "hello")).text
              == "GREETING=hi from the admin page", "the edited environment in the list")
    assert page.one("[data-testid=app-row-workdir]", page.row("app-row", "hello")).text == str(work)
    saved = host.config.read_text()
    assert "hello" in saved and "GREETING" in saved and str(work) in saved, saved

    r = mh.stream_attempt(host, cfg, app="hello")
    assert r["result"] == "started", (r, host.log()[-3000:])
    marker = work / "hello-ran"
    wait_until(lambda: marker.exists() and marker.read_text().strip(), 15, "the launched app's marker file",
               detail=lambda: host.log()[-3000:])
    assert marker.read_text().strip() == "hi from the admin page"

    # Its session shows on the page (the client left without quitting); end it, then remove the app.
    page.tab("sessions")
    card = page.wait(lambda: page.row("session-row", "hello"), "the hello session")
    page.one("[data-testid=session-end]", card).click()
    page.accept_confirm()
    page.wait(lambda: page.find("[data-testid=sessions-empty]"), "the hello session to end")
    page.tab("apps")
    page.one("[data-testid=app-remove]", page.row("app-row", "hello")).click()
    page.accept_confirm()
    page.wait(lambda: page.row("app-row", "hello") is None, "the removed app to leave the list")
    assert "hello" not in client_app_names(host, cfg)
    assert "hello" not in host.config.read_text()

    # Logs: the host's recent lines, this page's own actions among them.
    page.tab("logs")
    page.wait(lambda: len(page.find("[data-testid=log-line]")) > 5, "log lines")
    shot(browser, "logs")

    # Unpair: the list empties, on the page and in the host.
    page.tab("clients")
    page.one("[data-testid=client-unpair]", page.row("client-row", "Living room TV")).click()
    page.accept_confirm()
    page.wait(lambda: page.find("[data-testid=clients-empty]") and not page.find("[data-testid=client-row]"),
              "the client list to empty")
    assert host.clients() == []

    # Log out: the login form again, and the old cookie reads nothing.
    cookie = {c["name"]: c["value"] for c in browser.get_cookies()}.get("lumen_admin")
    assert cookie, browser.get_cookies()
    page.one("#logout").click()
    page.wait_css("#login-password", "the login form after logging out")
    r = requests.get(host.web + "/api/get/clients", cookies={"lumen_admin": cookie}, verify=False, timeout=10)
    assert r.status_code == 401, (r.status_code, r.text)
    assert script_errors(browser) == []


def test_api_refuses_cross_origin_and_token_less_posts_and_wrong_passwords(admin_host, browser):
    host = admin_host(password=None)
    web = host.web
    origin = {"Origin": web}

    # No password yet: the page says how to set one, and a login is refused.
    browser.get(web + "/")
    page = Page(browser, host)
    hint = page.wait_css("[data-testid=login-hint]", "the no-password hint")[0]
    assert "lumen-session admin-password" in hint.text
    assert not page.find("#login-password"), "a password field although no password is set"
    shot(browser, "no-password")
    r = requests.get(web + "/api/auth", verify=False, timeout=10)
    assert r.json() == {"ok": True, "logged_in": False, "password_set": False, "csrf": None}, r.text
    r = requests.post(web + "/api/login", json={"password": PASSWORD}, headers=origin, verify=False, timeout=10)
    assert r.status_code == 409, (r.status_code, r.text)

    # The owner sets one while the host runs; the page (reloaded) asks for it.
    set_password(host.binary, host.state_dir, PASSWORD)
    browser.refresh()
    page.wait_css("#login-password", "the login form")
    assert not page.find("[data-testid=login-hint]")
    assert requests.get(web + "/api/auth", verify=False, timeout=10).json()["password_set"] is True

    # A wrong password: 401.
    r = requests.post(web + "/api/login", json={"password": "wrong"}, headers=origin, verify=False, timeout=10)
    assert r.status_code == 401 and r.json()["ok"] is False, (r.status_code, r.text)

    # The right one: a CSRF token and a cookie the page's scripts cannot read nor other sites send.
    r = requests.post(web + "/api/login", json={"password": PASSWORD}, headers=origin, verify=False, timeout=10)
    assert r.status_code == 200, (r.status_code, r.text)
    csrf = r.json()["csrf"]
    token = r.cookies.get("lumen_admin")
    assert csrf and token, (r.text, r.headers)
    set_cookie = r.headers["Set-Cookie"]
    for attr in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
        assert attr in set_cookie, set_cookie
    cookies = {"lumen_admin": token}

    # Reads need the cookie.
    r = requests.get(web + "/api/get/clients", verify=False, timeout=10)
    assert r.status_code == 401, (r.status_code, r.text)
    assert requests.get(web + "/api/get/clients", cookies=cookies, verify=False, timeout=10).ok

    def post(body, headers, cookies=cookies, data=None):
        return requests.post(web + "/api/do", headers=headers, cookies=cookies, verify=False, timeout=10,
                             **({"data": data} if data is not None else {"json": body}))

    evil = {"cmd": "app_add", "app": {"name": "evil", "command": "sh -c 'exec sleep 100'", "image": None,
                                      "working_dir": None, "env": {}}}
    good = {"Origin": web, "X-CSRF-Token": csrf}
    # Cross-origin (with a valid cookie and token): 403.
    r = post(evil, {"Origin": "https://evil.example", "X-CSRF-Token": csrf})
    assert r.status_code == 403, (r.status_code, r.text)
    # No CSRF token, or a wrong one: 403.
    r = post(evil, {"Origin": web})
    assert r.status_code == 403, (r.status_code, r.text)
    r = post(evil, {"Origin": web, "X-CSRF-Token": "0" * len(csrf)})
    assert r.status_code == 403, (r.status_code, r.text)
    # No Origin at all: 403.
    r = post(evil, {"X-CSRF-Token": csrf})
    assert r.status_code == 403, (r.status_code, r.text)
    # Not JSON (a form post another site could make): refused. docs/admin.md says 403; the host answers 415.
    r = post(None, {**good, "Content-Type": "text/plain"}, data=json.dumps(evil))
    assert r.status_code in (403, 415), (r.status_code, r.text)
    # No cookie: refused.
    r = post(evil, good, cookies={})
    assert r.status_code in (401, 403), (r.status_code, r.text)
    # A Host that is not this machine (a DNS-rebinding page): refused.
    r = requests.get(web + "/api/get/apps", headers={"Host": "evil.example"}, cookies=cookies, verify=False,
                     timeout=10)
    assert r.status_code == 403, (r.status_code, r.text)
    # None of them changed anything; the same request done right does.
    names = lambda: [a["name"] for a in requests.get(web + "/api/get/apps", cookies=cookies, verify=False,  # noqa: E731
                                                     timeout=10).json()["apps"]]
    assert "evil" not in names()
    r = post(evil, good)
    assert r.status_code == 200 and r.json()["ok"] is True, (r.status_code, r.text)
    assert "evil" in names()
    assert "request refused" in host.log()

    # Repeated wrong passwords lock the address out (429), the right password too while it lasts.
    codes = [requests.post(web + "/api/login", json={"password": "wrong"}, headers=origin, verify=False,
                           timeout=10).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429], codes
    r = requests.post(web + "/api/login", json={"password": PASSWORD}, headers=origin, verify=False, timeout=10)
    assert r.status_code == 429, (r.status_code, r.text)
    assert script_errors(browser) == []
