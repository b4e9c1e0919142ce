"""`make hub`: a real JupyterHub on 127.0.0.1 for the users the teacher lists, each with the series in
their home and this .venv as the kernel; a class password that is never empty; clear errors in both
languages; nothing left running once it stops. The browser test logs in as a student and runs 06."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from conftest import LAB_SETTINGS, ROOT, free_port

sys.path.insert(0, str(ROOT / "deploy"))
sys.path.insert(0, str(ROOT / "benchmarks"))
import classhub  # noqa: E402
from class_bench import Hub, Kernel  # noqa: E402

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
USERS = ["student1", "student2"]
PASSWORD = secrets.token_urlsafe(12)


def bilingual(message: str) -> bool:
    ja, _, en = str(message).partition("\n")
    return bool(JAPANESE.search(ja)) and bool(re.search(r"[A-Za-z]{3}", en)) and not JAPANESE.search(en)


def missing() -> str | None:
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        return "jupyterhub is not installed"
    if not classhub.proxy_command():
        return "configurable-http-proxy is not installed"
    return None


def need_hub(kind: str = "HUB TESTS NOT RUN"):
    """No JupyterHub or proxy: a failure in CI (which installs both), a loud skip elsewhere."""
    reason = missing()
    if reason:
        message = f"{kind}: {reason}. Install both with `make hub-deps`."
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)


# --- settings and checks (no hub needed) ------------------------------------------------------------

def test_the_teachers_list_reads_lines_spaces_commas_and_comments():
    assert classhub.read_users("# the class\nalice\nbob, carol  dave # late\n\nalice\n") == [
        "alice", "bob", "carol", "dave"]
    with pytest.raises(classhub.HubError) as err:
        classhub.read_users("alice\nBob\nöhm\n")
    assert "Bob" in str(err.value) and "öhm" in str(err.value) and bilingual(err.value)


def test_the_committed_list_has_the_two_test_users():
    assert classhub.read_users((ROOT / "deploy" / "users.txt").read_text()) == USERS


def test_no_users_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(classhub, "USERS_FILE", tmp_path / "absent.txt")
    with pytest.raises(classhub.HubError) as err:
        classhub.settings_from_env({"CLASS_USERS": ""})
    assert bilingual(err.value)


@pytest.mark.parametrize(("text", "expected"), [("1G", 1024 ** 3), ("512M", 512 * 1024 ** 2),
                                                 ("1.5G", int(1.5 * 1024 ** 3)), (str(2 ** 30), 2 ** 30)])
def test_memory_limits_read_as_jupyterhub_reads_them(text, expected):
    assert classhub.memory_bytes(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "10M", "-1G", "nanG"])
def test_an_unreadable_or_tiny_memory_limit_is_refused(text):
    with pytest.raises(classhub.HubError) as err:
        classhub.memory_bytes(text)
    assert bilingual(err.value)


def settings(tmp_path, **changes):
    values = dict(users=USERS, password=PASSWORD, port=free_port(), state=tmp_path / "hub")
    values.update(changes)
    return classhub.Settings(**values)


@pytest.mark.parametrize("password", ["", "short"])
def test_an_empty_or_short_password_is_refused(tmp_path, password):
    with pytest.raises(classhub.HubError) as err:
        classhub.check(settings(tmp_path, password=password))
    assert "CLASS_PASSWORD" in str(err.value) and bilingual(err.value)


def test_a_taken_port_is_named_with_the_fix(tmp_path):
    need_hub()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(classhub.HubError) as err:
            classhub.check(settings(tmp_path, port=port - 1))  # port - 1 + 1 is the proxy's API
    assert str(port) in str(err.value) and "HUB_PORT=" in str(err.value) and bilingual(err.value)


def test_a_missing_proxy_says_how_to_install_it(tmp_path, monkeypatch):
    need_hub()
    monkeypatch.setenv("CLASS_PROXY", str(tmp_path / "no-proxy-here"))
    with pytest.raises(classhub.HubError) as err:
        classhub.check(settings(tmp_path))
    assert "make hub-deps" in str(err.value) and bilingual(err.value)


def test_the_configuration_itself_refuses_an_empty_password(tmp_path):
    need_hub()
    env = {**os.environ, **settings(tmp_path, password="").environment()}
    done = subprocess.run([str(classhub.VENV / "bin" / "jupyterhub"), "-f", str(classhub.CONFIG)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "CLASS_PASSWORD" in done.stderr + done.stdout
    assert not classhub.leftovers(tmp_path)


# --- a real hub -------------------------------------------------------------------------------------

class Running:
    def __init__(self, settings, token):
        self.settings, self.token, self.url = settings, token, settings.url

    def api(self, method, path, body=None, token=None):
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {token or self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                text = response.read()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as err:
            return err.code, None

    def start_server(self, user, timeout_s=180):
        status, _ = self.api("POST", f"/hub/api/users/{user}/server", {})
        assert status in (201, 202, 400), status  # 400: already running
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            _, model = self.api("GET", f"/hub/api/users/{user}")
            if model["servers"].get("", {}).get("ready"):
                return
            time.sleep(0.5)
        raise AssertionError(f"{user}'s server did not start in {timeout_s} s:\n"
                             f"{(self.settings.state / 'hub.log').read_text()[-3000:]}")

    def token_for(self, user):
        _, made = self.api("POST", f"/hub/api/users/{user}/tokens", {"note": "test", "expires_in": 900})
        return made["token"]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    need_hub()
    state = tmp_path_factory.mktemp("class-hub")
    # the browser suite's JupyterLab settings (every cell in the page, no autosave) and English menus,
    # as the browser test reads them; the hub never overwrites a student's settings
    chosen = {**LAB_SETTINGS, "@jupyterlab/translation-extension/plugin.jupyterlab-settings": {"locale": "en"}}
    for user in USERS:
        for name, value in chosen.items():
            path = state / "home" / user / ".jupyter" / "lab" / "user-settings" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))
    token = secrets.token_hex(24)
    chosen = settings(state, state=state, service_token=token, mem_limit="2G")
    process = classhub.start(chosen, state / "hub.log", timeout_s=120)
    try:
        yield Running(chosen, token)
    finally:
        left = classhub.stop(process, state)
        assert not left, f"processes left after the hub stopped: {left}"
        assert not classhub.leftovers(state)


def test_the_hub_listens_on_localhost_only(hub):
    assert hub.url.startswith("http://127.0.0.1:")
    with socket.socket() as probe:  # the public port is bound to 127.0.0.1, not every address
        probe.settimeout(2)
        addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
        others = addresses - {"127.0.0.1", "127.0.1.1"}
        if others:
            assert probe.connect_ex((others.pop(), hub.settings.port)) != 0


def test_the_hub_has_exactly_the_teachers_users_and_needs_a_token(hub):
    assert hub.api("GET", "/hub/api/users", token="wrong")[0] == 403
    status, users = hub.api("GET", "/hub/api/users")
    assert status == 200 and sorted(u["name"] for u in users) == USERS


def test_a_student_logs_in_only_with_the_class_password(hub):
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args):
            return None

    def login(user, password):
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(), NoRedirect())
        with opener.open(f"{hub.url}/hub/login", timeout=30) as page:
            xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.read().decode()).group(1)
        body = urllib.parse.urlencode({"username": user, "password": password, "_xsrf": xsrf}).encode()
        try:
            with opener.open(urllib.request.Request(f"{hub.url}/hub/login", data=body), timeout=30) as answer:
                return answer.status
        except urllib.error.HTTPError as err:
            return err.code

    assert login("student2", PASSWORD) == 302  # in, sent on to the server
    assert login("student2", PASSWORD + "x") == 403
    assert login("stranger", PASSWORD) == 403  # not on the teacher's list


def test_a_students_server_has_the_series_and_the_project_kernel(hub):
    hub.start_server("student2")
    token = hub.token_for("student2")
    status, listing = hub.api("GET", "/user/student2/api/contents/notebooks", token=token)
    assert status == 200
    names = {item["name"] for item in listing["content"]}
    assert {p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")} <= names
    assert hub.api("GET", "/user/student2/api/contents/README.md", token=token)[0] == 200
    home = hub.settings.state / "home" / "student2"
    assert (home / "notebooks" / "06_loop.ipynb").read_bytes() == (ROOT / "notebooks" / "06_loop.ipynb").read_bytes()
    # another student's token does not open this server
    assert hub.api("GET", "/user/student2/api/contents/notebooks", token=hub.token_for("student1"))[0] in (302, 403)
    # the kernel is this project's .venv, one thread, the class's explorer runs, the memory limit
    async def ask():
        kernel = Kernel(Hub(hub.url, hub.token), "student2", token)
        await kernel.start()
        try:
            return await kernel.run("import os, sys, resource, torch, helpers\nhelpers.setup(quiet=True)\n"
                                    "print(sys.prefix, torch.get_num_threads(), "
                                    "os.environ['TRAINING_FLOW_EXPLORER_CACHE'], "
                                    "resource.getrlimit(resource.RLIMIT_DATA)[0])")
        finally:
            kernel.close()

    prefix, threads, runs, limit = asyncio.run(ask()).split()
    assert os.path.realpath(prefix) == os.path.realpath(classhub.VENV)
    assert threads == "1" and runs == str(hub.settings.state / "explorer-runs") and int(limit) == 2 * 1024 ** 3


def test_a_kernel_past_the_memory_limit_says_so_and_lives_on(hub):
    hub.start_server("student2")
    token = hub.token_for("student2")

    async def overflow():
        kernel = Kernel(Hub(hub.url, hub.token), "student2", token)
        await kernel.start()
        try:
            said = await kernel.run("import torch\nbig = torch.empty(2 ** 31)  # 8 GB, past the 2 GB limit",
                                    errors=False)
            return said, await kernel.run("print(1 + 1)")  # the kernel still answers
        finally:
            kernel.close()

    said, after = asyncio.run(overflow())
    lines = said.splitlines()
    assert "メモリの上限(2.0 GB)をこえました" in lines[0] and "limit (2.0 GB)" in lines[1]
    assert "can't allocate memory" in said and after.strip() == "2"


# --- in Chromium: a student logs in and runs 06 ---------------------------------------------------------

@pytest.mark.browser
def test_a_student_logs_in_in_chromium_and_runs_06(hub):
    need_hub("BROWSER TESTS NOT RUN")
    from test_browser import CHROMIUM, CHROMIUM_FLAGS, SHOTS, STATUS_JS, move_sliders, problems, run_all, unavailable

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the Python package playwright is not installed")
    if not os.path.exists(CHROMIUM):
        unavailable(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.set_default_timeout(120_000)
            page.goto(f"{hub.url}/hub/login")
            page.fill("#username_input", "student1")
            page.fill("#password_input", PASSWORD)
            page.click("#login_submit")
            page.wait_for_url(re.compile(r"/user/student1/lab"), timeout=180_000)  # the server started
            page.goto(f"{hub.url}/user/student1/lab/tree/notebooks/06_loop.ipynb?reset")
            page.wait_for_selector(".jp-Notebook .jp-Cell")
            deadline = time.monotonic() + 120
            while "Idle" not in page.evaluate(STATUS_JS):
                assert time.monotonic() < deadline, f"the kernel never became Idle: {page.evaluate(STATUS_JS)!r}"
                time.sleep(0.3)
            run_all(page, "06_loop.ipynb (hub)")
            assert problems(page) == []
            assert move_sliders(page, "06_loop.ipynb (hub)") >= 2  # the explorer's two sliders at least
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.locator(".jp-Notebook .widget-slider").first.scroll_into_view_if_needed()
            page.screenshot(path=str(SHOTS / "hub_student1_06_loop.png"))
            page.goto(f"{hub.url}/hub/logout")
        finally:
            chromium.close()
    # the notebook ran on student1's own server, from student1's home
    _, model = hub.api("GET", "/hub/api/users/student1")
    assert model["servers"][""]["ready"]
    assert (hub.settings.state / "home" / "student1" / "notebooks" / "06_loop.ipynb").exists()


# --- Japanese menus: an optional extra the doctor reports ----------------------------------------------

def test_the_doctor_reports_the_japanese_menus_either_way():
    from helpers.tools import doctor

    there = doctor.check_menus("4.5.post3", looked=True)
    absent = doctor.check_menus(None, looked=True)
    assert there.ok and "ja_JP" in there.found and "4.5.post3" in there.found
    assert absent.ok and "make ja" in absent.found  # optional: never a failed check
    assert doctor.check_menus().found == (there.found.replace("4.5.post3", classhub.japanese_pack())
                                          if classhub.japanese_pack() else absent.found)
    assert any(check.name == "menus" for check in doctor.run_checks())


def test_make_ja_sets_the_japanese_menus_only_as_a_default():
    makefile = (ROOT / "Makefile").read_text()
    rule = makefile[makefile.index("$(JA_STAMP):"):makefile.index("ja: $(JA_STAMP)")]
    assert '"locale": "ja_JP"' in rule and "test -f $(LAB_OVERRIDES) ||" in rule  # never over a teacher's file
    assert '".[ja]"' in rule
