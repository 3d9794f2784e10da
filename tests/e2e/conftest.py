"""Real-browser fixtures: the real app (uvicorn, in its own process) over a freshly built small demo
database, Debian's Chromium driven by Playwright, and a screenshot helper.

Chromium is the system's (/usr/bin/chromium, Debian package ``chromium``; ``fonts-noto-cjk`` for Chinese),
never one downloaded by ``playwright install``. If it is missing these tests FAIL, they never skip:
``.ci/run`` installs both packages before ``make test``.

Screenshots land in ``test-artifacts/screenshots/`` at the repository's root (gitignored). Every page a test
opens is watched: a request leaving the server (CDN, fonts, analytics …) is blocked and fails the test, as
does a JavaScript error.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from arrears.db.engine import make_engine
from arrears.delinquency.tables import LoanDelinquency
from arrears.demo.build import DEMO_PASSWORD, build_demo
from arrears.loans.tables import Borrower, Loan
from arrears.privacy import PersonalDataCipher
from arrears.settings import load_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
BUSINESS_DATE = date(2026, 11, 20)
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

try:  # a missing test dependency is an error, not a skip
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError("tests/e2e need Playwright for Python: pip install -e '.[test]' (no `playwright install`: "
                      "the tests drive Debian's /usr/bin/chromium)") from exc


@dataclass
class Demo:
    """The demo database the server runs on, with ways to look things up in it."""

    data_dir: Path
    database_url: str
    cipher: PersonalDataCipher
    engine: Engine  # the test's own read connection to the server's database
    logins: dict[str, str]  # role → username
    password: str = DEMO_PASSWORD

    def session(self) -> Session:
        return Session(self.engine)

    def overdue_loan(self, product: str, min_dpd: int = 31) -> tuple[Loan, LoanDelinquency]:
        """The product's loan with the fewest days past due at or above ``min_dpd`` at the last end of day."""
        with self.session() as s:
            row = s.execute(select(Loan, LoanDelinquency).join(LoanDelinquency, LoanDelinquency.loan_id == Loan.id)
                            .where(Loan.product_code == product, LoanDelinquency.dpd >= min_dpd)
                            .order_by(LoanDelinquency.dpd, Loan.id).limit(1)).one()
            s.expunge_all()
            return row[0], row[1]

    def borrower_name(self, loan: Loan) -> str:
        with self.session() as s:
            return self.cipher.decrypt(s.get(Borrower, loan.borrower_id).name_enc)

    def loans_of(self, username: str) -> list[int]:
        with self.session() as s:
            return list(s.scalars(select(Loan.id).join(Borrower, Borrower.id == Loan.borrower_id)
                                  .where(Borrower.borrower_no == username.upper()).order_by(Loan.id)))

    def loan_ids(self) -> list[int]:
        with self.session() as s:
            return list(s.scalars(select(Loan.id).order_by(Loan.id)))


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """200 generated loans as of 2026-11-20, imported and run through end of day (same seed, same portfolio)."""
    data_dir = tmp_path_factory.mktemp("e2e-data")
    settings = load_settings(data_dir, f"sqlite:///{data_dir / 'arrears.db'}")
    summary = build_demo(settings, loans=200, business_date=BUSINESS_DATE, seed=1)
    engine = make_engine(settings.database_url)
    yield Demo(data_dir, settings.database_url, PersonalDataCipher(settings.secret_key), engine,
               {role: username for username, _, role in summary.logins})
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: int = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # our own 127.0.0.1 server
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"the server did not answer {url} within {timeout} s:\n{log.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def base_url(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app, served by uvicorn in its own process (its own business date and environment) on a free
    127.0.0.1 port; stopped at the end of the session."""
    log = tmp_path_factory.mktemp("e2e-server") / "uvicorn.log"
    env = {**os.environ, "ARREARS_DATA_DIR": str(demo.data_dir), "ARREARS_DATABASE_URL": demo.database_url,
           "ARREARS_BUSINESS_DATE": BUSINESS_DATE.isoformat()}
    env.pop("ARREARS_SECRET_KEY", None)  # the key file build_demo made in the data directory
    for attempt in range(3):  # another process may take the port between choosing it and binding it
        port = _free_port()
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory", "arrears.web.app:create_app", "--host", "127.0.0.1",
                 "--port", str(port), "--log-level", "warning", "--no-access-log"],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=demo.data_dir)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(f"{url}/login", process, log)
            break
        except pytest.fail.Exception:
            process.kill()
            process.wait()
            if attempt == 2 or "address already in use" not in log.read_text(errors="replace").lower():
                raise
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's packages `chromium` and `fonts-noto-cjk` "
                    "(.ci/run does). The browser tests never skip.", pytrace=False)
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@dataclass
class Watch:
    """What pages of a browser context did that a test should fail on."""

    external: list[str] = field(default_factory=list)  # requests that tried to leave the server
    errors: list[str] = field(default_factory=list)  # uncaught JavaScript errors and console errors


@pytest.fixture
def new_context(browser: Browser, base_url: str) -> Iterator[Callable[..., BrowserContext]]:
    """``new_context(phone=False, locale="zh-CN")``: a fresh browser context (no cookies) on the app, at
    desktop size or a phone's 390×844. Fails the test if any page in it requested anything outside the
    server or raised a JavaScript error."""
    made: list[tuple[BrowserContext, Watch]] = []

    def make(*, phone: bool = False, locale: str = "zh-CN") -> BrowserContext:
        options = {"viewport": PHONE, "is_mobile": True, "has_touch": True} if phone else {"viewport": DESKTOP}
        context = browser.new_context(base_url=base_url, locale=locale, timezone_id="Asia/Shanghai",
                                      device_scale_factor=1, **options)
        context.set_default_timeout(15_000)
        watch = Watch()

        def guard(route) -> None:
            url = route.request.url
            if url == base_url or url.startswith((base_url + "/", "data:", "blob:")):
                route.continue_()
            else:
                watch.external.append(url)
                route.abort()

        context.route("**/*", guard)
        context.on("page", lambda page: _watch_page(page, watch))
        made.append((context, watch))
        return context

    yield make
    problems = []
    for context, watch in made:
        context.close()
        problems += [f"request outside the server: {u}" for u in watch.external]
        problems += [f"JavaScript error: {e}" for e in watch.errors]
    assert not problems, "\n".join(problems)


def _watch_page(page: Page, watch: Watch) -> None:
    page.on("pageerror", lambda exc: watch.errors.append(str(exc)))
    # Chromium logs any 4xx/5xx load as a console error, a page's own status too (a deliberate 404 or a 400
    # form): documents are the tests' to check, a failed style sheet, script or image is an error.
    page.on("console", lambda msg: watch.errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    page.on("response", lambda r: watch.errors.append(f"{r.status} for {r.url}")
            if r.status >= 400 and r.request.resource_type != "document" else None)


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """``screenshot(page, name)``: saves the whole page as test-artifacts/screenshots/<test>--<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name.removeprefix("test_"))

    def shoot(page: Page, name: str) -> Path:
        path = SCREENSHOTS / f"{test}--{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shoot


STAFF_LANDING = re.compile(r".*/(loans|work)$")  # where a staff sign-in lands


def sign_in(page: Page, username: str, password: str, *, landing: re.Pattern | None = STAFF_LANDING) -> None:
    """Signs in through the login form (either language) and waits for ``landing`` (None: the caller waits)."""
    page.goto("/login")
    page.get_by_label(re.compile("用户名|User name")).fill(username)
    page.get_by_label(re.compile("密码|Password")).fill(password)
    page.get_by_role("button", name=re.compile("登录|Sign in")).click()
    if landing is not None:
        page.wait_for_url(landing)
