"""A JupyterHub for one class on this machine: checks, the class's settings, start and stop.

`make hub` runs this file: it checks what the hub needs (JupyterHub, the proxy, free ports, a
password), fills the explorer's shared folder, prints the address and the password, then runs
JupyterHub with deploy/jupyterhub_config.py. benchmarks/class_bench.py starts the same hub with
`start()`. Every error says what is wrong and how to fix it, in Japanese and in English.
"""

from __future__ import annotations

import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("VENV", ROOT / ".venv")).resolve()
CONFIG = ROOT / "deploy" / "jupyterhub_config.py"
USERS_FILE = ROOT / "deploy" / "users.txt"
LOCAL_PROXY = VENV / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
MIN_PASSWORD = 8  # JupyterHub's shared-password authenticator refuses shorter ones


class HubError(RuntimeError):
    """A hub that cannot start: the message says why and what to do, Japanese first."""

    def __init__(self, ja: str, en: str):
        super().__init__(f"{ja}\n{en}")


@dataclass
class Settings:
    """What a class hub needs; from the environment (CLASS_*, HUB_PORT) unless given."""

    users: list[str]
    password: str
    port: int = 8000
    state: Path = ROOT / "build" / "hub"  # database, cookie secret, homes, shared explorer runs
    mem_limit: str = "1G"
    cpu_limit: float = 1.0
    service_token: str = ""  # a token for benchmarks/class_bench.py, which drives the hub's REST API

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """The variables deploy/jupyterhub_config.py reads."""
        return {"CLASS_USERS": " ".join(self.users), "CLASS_PASSWORD": self.password, "HUB_PORT": str(self.port),
                "CLASS_STATE": str(self.state), "CLASS_MEM_LIMIT": self.mem_limit,
                "CLASS_CPU_LIMIT": str(self.cpu_limit), "CLASS_SERVICE_TOKEN": self.service_token,
                "CLASS_PROXY": proxy_command(), "VENV": str(VENV)}


def read_users(text: str) -> list[str]:
    """User names from a list: one per line or separated by spaces or commas; '#' starts a comment."""
    names = []
    for line in text.splitlines():
        names += [n for n in line.split("#", 1)[0].replace(",", " ").split() if n]
    bad = [n for n in names if not n.replace("-", "").replace("_", "").isalnum() or not n.isascii()
           or n != n.lower()]
    if bad:
        raise HubError(f"ユーザー名は小文字の英数字と - _ だけにします: {', '.join(bad)}",
                       f"User names may hold only lower-case letters, digits, - and _: {', '.join(bad)}")
    return list(dict.fromkeys(names))


def settings_from_env(env=os.environ) -> Settings:
    users = read_users(env.get("CLASS_USERS") or (USERS_FILE.read_text() if USERS_FILE.exists() else ""))
    if not users:
        raise HubError(f"ユーザーがいません。{USERS_FILE} に1行1人で書くか、"
                       "CLASS_USERS='student1 student2' を渡してください。",
                       f"No users: list them one per line in {USERS_FILE}, "
                       "or pass CLASS_USERS='student1 student2'.")
    return Settings(users=users, password=env.get("CLASS_PASSWORD", ""), port=int(env.get("HUB_PORT", 8000)),
                    state=Path(env.get("CLASS_STATE", ROOT / "build" / "hub")),
                    mem_limit=env.get("CLASS_MEM_LIMIT", "1G"), cpu_limit=float(env.get("CLASS_CPU_LIMIT", 1)),
                    service_token=env.get("CLASS_SERVICE_TOKEN", ""))


def memory_bytes(limit: str) -> int:
    """'1G', '512M', '1.5G' or a number of bytes -> bytes (JupyterHub's units: powers of 1024)."""
    units = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}
    text = str(limit).strip().upper()
    try:
        value = float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 256 * 1024 ** 2:
        raise HubError(f"メモリの上限 {limit!r} が読めないか小さすぎます('1G' のように、256M 以上)。",
                       f"The memory limit {limit!r} is unreadable or too small (write it like '1G', at least 256M).")
    return int(value)


def japanese_pack() -> str | None:
    """The version of JupyterLab's Japanese language pack (`pip install -e ".[ja]"`), or None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("jupyterlab-language-pack-ja-JP")
    except PackageNotFoundError:
        return None


def proxy_command() -> str:
    """configurable-http-proxy: CLASS_PROXY, else the one `make hub-deps` put in .venv, else on PATH."""
    return os.environ.get("CLASS_PROXY") or (str(LOCAL_PROXY) if LOCAL_PROXY.exists() else "") or (
        shutil.which("configurable-http-proxy") or "")


def ports(port: int) -> tuple[int, int, int]:
    """The public port, the proxy's API and the hub's own port."""
    return port, port + 1, port + 2


def check(settings: Settings) -> None:
    """Everything the hub needs before it starts; raises HubError naming the first thing missing."""
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        raise HubError("JupyterHub が入っていません。`make hub-deps` で入れてください。",
                       "JupyterHub is not installed: run `make hub-deps`.") from None
    if not proxy_command() or not Path(proxy_command()).exists():
        raise HubError("configurable-http-proxy(npm のプロキシ)が見つかりません。`make hub-deps` で入れるか"
                       "(Node.js の npm が要ります)、CLASS_PROXY にその場所を渡してください。",
                       "configurable-http-proxy (the proxy, from npm) was not found: run `make hub-deps` "
                       "(it needs Node.js's npm), or pass its path in CLASS_PROXY.")
    if len(settings.password) < MIN_PASSWORD:
        raise HubError(f"パスワードが空か短すぎます({MIN_PASSWORD} 文字以上)。CLASS_PASSWORD を渡すか、"
                       "空のまま `make hub` にすると新しく作って表示します。",
                       f"The password is empty or too short (at least {MIN_PASSWORD} characters): pass "
                       "CLASS_PASSWORD, or leave it unset and `make hub` makes one and prints it.")
    memory_bytes(settings.mem_limit)
    for port in ports(settings.port):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is free
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise HubError(f"ポート {port} はほかのプログラムが使っています。HUB_PORT=8100 make hub の"
                               f"ように別のポートを選んでください(HUB_PORT から3つ続けて使います)。",
                               f"Port {port} is taken by another program: choose another, e.g. "
                               f"HUB_PORT=8100 make hub (the hub uses three ports from HUB_PORT on).") from None


def fill_explorer_runs(folder: Path) -> int:
    """Train notebook 06's explorer at every learning rate its slider can show, once for the class."""
    import helpers
    from helpers.lessons import loop

    device = helpers.setup(quiet=True)
    X, y = helpers.make_curve(30, seed=0)  # the notebook's data, on the notebook's device
    explorer = loop.training_explorer(X.to(device), y.to(device), device=device, cache=folder)
    low, high, step = explorer.lr_slider.min, explorer.lr_slider.max, explorer.lr_slider.step
    before = explorer.runs.trained_epochs
    for k in range(round((high - low) / step) + 1):
        with loop._one_thread():
            explorer.runs.get(10 ** round(low + k * step, 6), explorer.epochs_slider.max)
    return explorer.runs.trained_epochs - before


def get(url: str, token: str = "") -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def start(settings: Settings, log: Path, timeout_s: float = 60) -> subprocess.Popen:
    """Start JupyterHub (and through it the proxy) in its own process group; wait until it answers."""
    check(settings)
    settings.state.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **settings.environment()}
    with open(log, "w") as out:
        hub = subprocess.Popen([str(VENV / "bin" / "jupyterhub"), "-f", str(CONFIG)], cwd=settings.state, env=env,
                               stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while True:
        if hub.poll() is not None:
            raise HubError(f"JupyterHub が止まりました(終了コード {hub.returncode})。ログ: {log}",
                           f"JupyterHub exited ({hub.returncode}); its log: {log}\n{log.read_text()[-3000:]}")
        try:
            if get(f"{settings.url}/hub/api/") == 200:
                return hub
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop(hub, settings.state)
            raise HubError(f"JupyterHub が {timeout_s:.0f} 秒たっても答えません。ログ: {log}",
                           f"JupyterHub did not answer within {timeout_s:.0f} s; its log: {log}\n"
                           f"{log.read_text()[-3000:]}")
        time.sleep(0.3)


def leftovers(state: Path) -> list[int]:
    """Processes working inside the hub's folder (the hub, the proxy, servers, kernels), but this one."""
    state, found = state.resolve(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:  # gone, or not ours to see
            continue
        if cwd == state or state in cwd.parents:
            found.append(int(entry.name))
    return found


def stop(process: subprocess.Popen, state: Path | None = None, timeout_s: float = 30) -> list[int]:
    """End the hub and everything it started; returns the pids that had to be ended by hand.

    The hub stops the proxy and the servers itself; a server it missed is found by its working
    folder (inside `state`) and ended too.
    """
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout_s)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    left = leftovers(state) if state is not None else []
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in left:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while state is not None and leftovers(state) and time.monotonic() < deadline:
            time.sleep(0.2)
    return left


def main() -> int:
    try:
        settings = settings_from_env()
        made = not settings.password
        if made:
            settings.password = secrets.token_urlsafe(12)
        check(settings)
    except HubError as err:
        print(err, file=sys.stderr)
        return 2
    folder = settings.state / "explorer-runs"
    print(f"06 の探検の学習を準備しています… / Preparing notebook 06's explorer runs in {folder} ...", flush=True)
    trained = fill_explorer_runs(folder)
    print(f"{trained} エポックを学習しました。 / Trained {trained} epochs.")
    print()
    print(f"  JupyterHub: {settings.url}/")
    print(f"  ユーザー / users: {' '.join(settings.users)}")
    print(f"  パスワード / password: {settings.password}" + ("  (新しく作りました / made now)" if made else ""))
    print()
    sys.stdout.flush()
    settings.state.mkdir(parents=True, exist_ok=True)

    def interrupt(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)  # Ctrl-C, even where the shell started us ignoring it
    signal.signal(signal.SIGTERM, interrupt)  # `kill`: the same clean stop
    hub = subprocess.Popen([str(VENV / "bin" / "jupyterhub"), "-f", str(CONFIG)], cwd=settings.state,
                           env={**os.environ, **settings.environment()}, start_new_session=True)
    try:
        return hub.wait()
    except KeyboardInterrupt:
        print("\nJupyterHub を止めています… / Stopping JupyterHub ...", flush=True)
        return 0
    finally:
        left = stop(hub, settings.state)
        if left:
            print(f"残っていたプロセス {len(left)} 個も止めました。 / Also ended {len(left)} process(es) left behind.")


if __name__ == "__main__":
    sys.exit(main())
