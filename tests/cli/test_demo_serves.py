"""`arrears demo` as a newcomer runs it: builds the database, prints the address and the sign-ins,
and serves pages and the API until stopped."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_command_serves_pages_and_api(tmp_path):
    port = _free_port()
    env = {**os.environ, "ARREARS_BUSINESS_DATE": "2026-11-20"}
    env.pop("ARREARS_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "arrears.cli", "demo", "--loans", "200", "--port", str(port),
                             "--data-dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    output = ""
    try:
        deadline = time.monotonic() + 120
        while f"http://127.0.0.1:{port}/" not in output and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, output
            output += line
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):  # the server may need a moment after printing its address
            try:
                home = httpx.get(base + "/")
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert home.status_code == 200 and "逾期" in home.text
        password = re.search(r"admin\s*│\s*(\S+)", output).group(1)
        token = httpx.post(base + "/api/v1/auth/token", json={"username": "admin", "password": password})
        assert token.status_code == 200, token.text
        loans = httpx.get(base + "/api/v1/loans", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
        assert loans.status_code == 200 and loans.json()["total"] == 200
        with httpx.Client(base_url=base, follow_redirects=True) as browser:
            page = browser.post("/login", data={"username": "collector", "password": password})
        assert page.status_code == 200 and "贷款台账" in page.text
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
