"""A class on one server: N students at once through a real JupyterHub (deploy/), moving 06's sliders.

For each N (default 1, 5, 10, 20, 40) every simulated student gets a user and a token through the hub's
REST API, starts a server, opens notebooks/06_loop.ipynb, runs it on a kernel, then moves the
explorer's sliders for a while (--seconds, one move every --interval s), the way the widget does: a
comm message that sets the slider's value, answered by the new picture. Reported per N: the slider
update time p50/p95 (ms, from the message sent to the kernel's picture and idle status), the memory of
the kernels, servers, hub and proxy (PSS, so shared libraries count once), and the failures (a server
that did not start or died, a kernel that did not answer in time). Then "students per CPU core at
p95 <= 250 ms" and "GB of memory per student"; printed, and with --write added to docs/results.md
and build/bench/class_bench.json. Everything started is stopped at the end, and checked.
Run with `make class-bench` (CLASS_BENCH_FLAGS="--students 1 2 5 --seconds 20").
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import random
import secrets
import shutil
import statistics
import struct
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy"))
import classhub  # noqa: E402

OUT = ROOT / "build" / "bench" / "class_bench.json"
RESULTS = ROOT / "docs" / "results.md"
START, END = "<!-- class-bench:start -->", "<!-- class-bench:end -->"
TARGET_P95_MS = 250.0
NOTEBOOK = "notebooks/06_loop.ipynb"
# Memory per student measured with this script (PSS of a kernel that ran 06 plus its server), and the hub
# with its proxy: what an N is checked against before anything starts.
STUDENT_MB, HUB_MB = 450, 250
CELL_TIMEOUT_S, MOVE_TIMEOUT_S, SPAWN_TIMEOUT_S = 300, 30, 240


class StudentFailed(Exception):
    pass


# --- memory ----------------------------------------------------------------------------------------

def available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def check_memory(counts: list[int], available: float | None = None) -> None:
    """Refuse, before anything starts, a class that would not fit in 90% of the memory available."""
    available = available_mb() if available is None else available
    largest = max(counts)
    need = largest * STUDENT_MB + HUB_MB
    if need > 0.9 * available:
        fits = max(0, int((0.9 * available - HUB_MB) // STUDENT_MB))
        raise SystemExit(
            f"{largest} 人は入りません: 1人約 {STUDENT_MB} MB、ハブ {HUB_MB} MB で約 {need / 1024:.1f} GB が"
            f"要りますが、使えるメモリは {available / 1024:.1f} GB です(その9割まで使います)。"
            f"{fits} 人以下にしてください。\n"
            f"{largest} students do not fit: about {STUDENT_MB} MB each plus {HUB_MB} MB for the hub is about "
            f"{need / 1024:.1f} GB, and {available / 1024:.1f} GB is available (up to 90% of it is used). "
            f"Use at most {fits} students.")


def pss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def memory_by_kind(state: Path) -> dict[str, float]:
    """PSS in MB of what runs in the hub's folder, by kind: kernel, server, hub, proxy."""
    totals = dict.fromkeys(("kernel", "server", "hub", "proxy"), 0.0)
    counts = dict.fromkeys(totals, 0)
    for pid in classhub.leftovers(state):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        kind = ("kernel" if "ipykernel" in cmd else "server" if "jupyterhub-singleuser" in cmd
                else "proxy" if "configurable-http-proxy" in cmd else "hub" if "jupyterhub" in cmd else None)
        if kind:
            totals[kind] += pss_mb(pid)
            counts[kind] += 1
    return {**{f"{k}_mb": v for k, v in totals.items()}, **{f"{k}s": n for k, n in counts.items()}}


# --- the hub's REST API and a kernel over its websocket ---------------------------------------------

class Hub:
    def __init__(self, url: str, token: str):
        from tornado.httpclient import AsyncHTTPClient

        self.url, self.token, self.http = url, token, AsyncHTTPClient(max_clients=200)

    async def api(self, method: str, path: str, body=None, token: str | None = None, timeout: float = 60):
        from tornado.httpclient import HTTPClientError

        try:
            response = await self.http.fetch(
                f"{self.url}{path}", method=method, request_timeout=timeout, follow_redirects=False,
                headers={"Authorization": f"token {token or self.token}", "Content-Type": "application/json"},
                body=None if body is None and method == "GET" else json.dumps(body or {}),
                allow_nonstandard_methods=True)
        except HTTPClientError as err:
            raise StudentFailed(f"{method} {path}: HTTP {err.code}") from None
        return json.loads(response.body) if response.body else None


def unpack(message) -> dict:
    """A kernel message from the websocket: JSON text, or the binary form that carries buffers."""
    if isinstance(message, str):
        return json.loads(message)
    count = struct.unpack("!I", message[:4])[0]
    offsets = struct.unpack("!" + "I" * count, message[4:4 * (count + 1)])
    end = offsets[1] if count > 1 else len(message)
    return json.loads(message[offsets[0]:end])


class Kernel:
    """A kernel started through a student's server, driven the way JupyterLab drives it."""

    def __init__(self, hub: Hub, user: str, token: str):
        self.hub, self.user, self.token, self.ws, self.session = hub, user, token, None, secrets.token_hex(8)

    async def start(self):
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        kernel = await self.hub.api("POST", f"/user/{self.user}/api/kernels", {"name": "python3"}, self.token)
        self.id = kernel["id"]
        url = self.hub.url.replace("http", "ws", 1) + f"/user/{self.user}/api/kernels/{self.id}/channels"
        self.ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {self.token}"}),
                                          max_message_size=64 * 1024 ** 2)

    def send(self, msg_type: str, content: dict, channel: str = "shell") -> str:
        msg_id = secrets.token_hex(8)
        header = {"msg_id": msg_id, "msg_type": msg_type, "username": self.user, "session": self.session,
                  "date": datetime.datetime.now(datetime.timezone.utc).isoformat(), "version": "5.3"}
        self.ws.write_message(json.dumps({"header": header, "parent_header": {}, "metadata": {}, "content": content,
                                          "channel": channel, "buffers": []}))
        return msg_id

    async def wait_idle(self, msg_id: str, timeout_s: float, errors: bool = True) -> list[dict]:
        """Messages in reply to msg_id until the kernel is idle again; raises StudentFailed on an error
        (unless errors=False), a kernel that died or closed, or no answer within timeout_s."""
        replies, deadline = [], time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StudentFailed(f"the kernel did not answer within {timeout_s:.0f} s")
            try:
                raw = await asyncio.wait_for(self.ws.read_message(), left)
            except asyncio.TimeoutError:
                raise StudentFailed(f"the kernel did not answer within {timeout_s:.0f} s") from None
            if raw is None:
                raise StudentFailed("the kernel's connection closed (server or kernel died)")
            msg = unpack(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            replies.append(msg)
            kind = msg["header"]["msg_type"]
            if kind == "error" and errors:
                raise StudentFailed(f"{msg['content']['ename']}: {msg['content']['evalue']}"[:300])
            if kind == "status" and msg["content"]["execution_state"] in ("dead", "restarting"):
                raise StudentFailed("the kernel died")
            if kind == "status" and msg["content"]["execution_state"] == "idle":
                return replies

    async def run(self, code: str, timeout_s: float = CELL_TIMEOUT_S, errors: bool = True) -> str:
        """Run code; its printed output (with errors=False, an error's name and message after it)."""
        msg_id = self.send("execute_request", {"code": code, "silent": False, "store_history": True,
                                               "user_expressions": {}, "allow_stdin": False})
        replies = await self.wait_idle(msg_id, timeout_s, errors)
        return "".join(m["content"].get("text", "") if m["header"]["msg_type"] == "stream"
                       else f"{m['content']['ename']}: {m['content']['evalue']}\n"
                       for m in replies if m["header"]["msg_type"] in ("stream", "error"))

    async def set_value(self, model_id: str, value, picture_id: str) -> float:
        """Set a slider's value as the frontend does; ms until the new picture came and the kernel was idle."""
        start = time.perf_counter()
        msg_id = self.send("comm_msg", {"comm_id": model_id, "data": {
            "method": "update", "state": {"value": value}, "buffer_paths": []}})
        replies = await self.wait_idle(msg_id, MOVE_TIMEOUT_S)
        elapsed = (time.perf_counter() - start) * 1000
        # no new picture is right where the picture stays the same (epochs past a divergence)
        return elapsed, any(m["header"]["msg_type"] == "comm_msg" and m["content"].get("comm_id") == picture_id
                            for m in replies)

    def close(self):
        if self.ws is not None:
            self.ws.close()


# --- one student -----------------------------------------------------------------------------------

async def wait_ready(hub: Hub, user: str) -> None:
    deadline = time.monotonic() + SPAWN_TIMEOUT_S
    while time.monotonic() < deadline:
        model = await hub.api("GET", f"/hub/api/users/{user}")
        server = model.get("servers", {}).get("")
        if server and server.get("ready"):
            return
        if not server and not model.get("pending"):
            raise StudentFailed("the server stopped while starting")
        await asyncio.sleep(0.5)
    raise StudentFailed(f"the server did not start within {SPAWN_TIMEOUT_S} s")


def code_cells(notebook: dict) -> list[str]:
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in notebook["cells"] if c["cell_type"] == "code"]


async def student(hub: Hub, user: str, seconds: float, interval: float, seed: int, ready: asyncio.Event,
                  moving: asyncio.Event) -> dict:
    """One student: token, server, notebook 06 run on a kernel, then slider moves until `seconds` pass."""
    result = {"user": user, "moves_ms": [], "failure": None, "phase": "token"}
    kernel = None
    try:
        token = (await hub.api("POST", f"/hub/api/users/{user}/tokens",
                               {"note": "class bench", "expires_in": 3600}))["token"]
        result["phase"] = "server"
        await hub.api("POST", f"/hub/api/users/{user}/server", {})
        await wait_ready(hub, user)
        result["phase"] = "notebook"
        notebook = (await hub.api("GET", f"/user/{user}/api/contents/{NOTEBOOK}", token=token))["content"]
        kernel = Kernel(hub, user, token)
        await kernel.start()
        for code in code_cells(notebook):
            await kernel.run(code)
        ids = (await kernel.run("print(explorer.lr_slider.model_id, explorer.epochs_slider.model_id, "
                                "explorer.image.model_id, explorer.lr_slider.min, explorer.lr_slider.max)")).split()
        lr_id, epochs_id, picture_id, low, high = ids[0], ids[1], ids[2], float(ids[3]), float(ids[4])
        result["phase"] = "sliders"
        ready.set()
        await moving.wait()  # everyone moves at the same time
        rng = random.Random(seed)
        exponents = [round(low + k * 0.1, 6) for k in range(round((high - low) / 0.1) + 1)]
        end = time.monotonic() + seconds
        turn = 0
        exponent, epochs = None, None
        while time.monotonic() < end:
            tick = time.monotonic()
            if turn % 2 == 0:  # the learning rate and the epochs in turn, each time to a new value
                exponent = rng.choice([e for e in exponents if e != exponent])
                ms, drawn = await kernel.set_value(lr_id, 10 ** exponent, picture_id)
            else:
                epochs = rng.choice([n for n in range(1, 201) if n != epochs])
                ms, drawn = await kernel.set_value(epochs_id, epochs, picture_id)
            result["moves_ms"].append(ms)
            result["same_picture"] = result.get("same_picture", 0) + (not drawn)
            turn += 1
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - tick)))
        result["trained_epochs"] = int(await kernel.run("print(explorer.runs.trained_epochs)"))
        result["phase"] = "done"
    except (StudentFailed, OSError, KeyError, IndexError, ValueError) as err:
        result["failure"] = f"{result['phase']}: {err}"
        ready.set()
    finally:
        if kernel is not None:
            kernel.close()
    return result


async def class_round(hub: Hub, state: Path, count: int, seconds: float, interval: float) -> dict:
    users = [f"bench-{i:02d}" for i in range(1, count + 1)]
    await hub.api("POST", "/hub/api/users", {"usernames": users})
    events = [asyncio.Event() for _ in users]
    moving = asyncio.Event()
    tasks = [asyncio.create_task(student(hub, u, seconds, interval, i, e, moving))
             for i, (u, e) in enumerate(zip(users, events, strict=True))]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), SPAWN_TIMEOUT_S + 20 * CELL_TIMEOUT_S)
    moving.set()
    sample_at = asyncio.create_task(asyncio.sleep(seconds / 2))
    await sample_at
    memory = memory_by_kind(state)  # mid-way: every kernel has run 06 and is busy with sliders
    results = await asyncio.gather(*tasks)
    for user in users:
        try:
            await hub.api("DELETE", f"/hub/api/users/{user}/server", timeout=120)
        except StudentFailed:
            pass
    deadline = time.monotonic() + 120
    while memory_by_kind(state)["servers"] and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    for user in users:
        try:
            await hub.api("DELETE", f"/hub/api/users/{user}")
        except StudentFailed:
            pass
    moves = [ms for r in results for ms in r["moves_ms"]]
    failures = [f"{r['user']}: {r['failure']}" for r in results if r["failure"]]
    row = {"students": count, "moves": len(moves),
           "p50_ms": statistics.median(moves) if moves else None,
           "p95_ms": float(np.percentile(moves, 95)) if moves else None,
           "failures": failures, **memory}
    row["per_student_mb"] = (memory["kernel_mb"] + memory["server_mb"]) / count
    # epochs the kernels trained in all (running 06 and moving): small when the class's shared runs are used
    row["trained_epochs"] = sum(r.get("trained_epochs", 0) for r in results)
    return row


# --- report ----------------------------------------------------------------------------------------

def headlines(rows: list[dict], cores: int) -> dict:
    good = [r["students"] for r in rows if r["p95_ms"] is not None and r["p95_ms"] <= TARGET_P95_MS
            and not r["failures"]]
    per_student = [r["per_student_mb"] for r in rows if r["kernels"]]
    return {"students_per_core": (max(good) / cores) if good else 0.0,
            "largest_class_within_target": max(good) if good else 0,
            "gb_per_student": (max(per_student) / 1024) if per_student else None, "cores": cores}


def table(rows: list[dict]) -> list[str]:
    lines = ["| students | moves | p50 (ms) | p95 (ms) | kernels (MB) | per student (MB) | hub (MB) | proxy (MB) "
             "| epochs trained | failures |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        p50 = f"{r['p50_ms']:.0f}" if r["p50_ms"] is not None else "–"
        p95 = f"{r['p95_ms']:.0f}" if r["p95_ms"] is not None else "–"
        lines.append(f"| {r['students']} | {r['moves']} | {p50} | {p95} | {r['kernel_mb']:.0f} "
                     f"| {r['per_student_mb']:.0f} | {r['hub_mb']:.0f} | {r['proxy_mb']:.0f} | {r['trained_epochs']} "
                     f"| {len(r['failures'])} |")
    return lines


def write_results(rows: list[dict], heads: dict, settings: dict) -> None:
    share = heads["gb_per_student"]
    body = [START, "## A class on one server (`make class-bench`)", "",
            f"{settings['date']}, {heads['cores']} CPU cores, {settings['memory_gb']:.0f} GB of memory, load "
            f"average {settings.get('load_average_1m', float('nan')):.1f} at the end (other programs on the CPU "
            "slow the moves too); each "
            f"student moves 06's sliders for {settings['seconds']:.0f} s, one move every {settings['interval']} s, "
            "all at once, through a real JupyterHub (deploy/). Memory is PSS (shared libraries counted once) "
            "while the sliders move; per student = kernel + server. Epochs trained: by all the kernels, running 06 "
            "and moving (the class's explorer runs are trained once, by `make hub`).", "", *table(rows), "",
            f"- Students per CPU core at p95 <= {TARGET_P95_MS:.0f} ms: **{heads['students_per_core']:.1f}** "
            f"(the largest class within the target: {heads['largest_class_within_target']} on "
            f"{heads['cores']} cores).",
            f"- Memory per student: **{share:.2f} GB**." if share is not None else "- Memory per student: –",
            "", END]
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Results\n"
    if START in text and END in text:
        text = text[:text.index(START)] + "\n".join(body) + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(body) + "\n"
    RESULTS.write_text(text, encoding="utf-8")


async def bench(args) -> tuple[list[dict], list[int]]:
    state = Path(args.state).resolve()
    shutil.rmtree(state / "home", ignore_errors=True)  # a fresh home per run: the notebooks as committed
    state.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(24)
    settings = classhub.Settings(users=["teacher"], password=secrets.token_urlsafe(12), port=args.port,
                                 state=state, service_token=token)
    classhub.check(settings)
    trained = classhub.fill_explorer_runs(state / "explorer-runs")
    print(f"explorer runs ready ({trained} epochs trained now)", flush=True)
    process = classhub.start(settings, state / "hub.log")
    rows = []
    try:
        hub = Hub(settings.url, token)
        for count in args.students:
            began = time.monotonic()
            row = await class_round(hub, state, count, args.seconds, args.interval)
            row["wall_s"] = time.monotonic() - began
            rows.append(row)
            print("\n".join(table([row])[2:]), f" ({row['wall_s']:.0f} s)", flush=True)
            for failure in row["failures"]:
                print(f"  failed: {failure}", flush=True)
    finally:
        left = classhub.stop(process, state)
    return rows, left


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, nargs="+", default=[1, 5, 10, 20, 40])
    parser.add_argument("--seconds", type=float, default=60, help="how long the sliders move (default 60)")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between one student's moves")
    parser.add_argument("--port", type=int, default=8400, help="the hub's port (it uses three from there)")
    parser.add_argument("--state", default=str(ROOT / "build" / "class-bench"), help="the hub's folder")
    parser.add_argument("--write", action="store_true", help="write docs/results.md and build/bench/")
    args = parser.parse_args()
    if any(n < 1 for n in args.students):
        raise SystemExit("生徒の数は 1 以上です。\nThe number of students must be at least 1.")
    check_memory(args.students)
    began = time.monotonic()
    try:
        rows, left = asyncio.run(bench(args))
    except classhub.HubError as err:
        print(err, file=sys.stderr)
        return 2
    cores = os.cpu_count() or 1
    heads = headlines(rows, cores)
    print("\n".join(["", *table(rows), ""]))
    print(f"students per CPU core at p95 <= {TARGET_P95_MS:.0f} ms: {heads['students_per_core']:.1f}; "
          f"GB per student: {heads['gb_per_student'] or float('nan'):.2f}; whole run {time.monotonic() - began:.0f} s")
    print("no process left" if not left else f"ended {len(left)} process(es) left behind: {left}")
    settings = {"date": time.strftime("%Y-%m-%d"), "seconds": args.seconds, "interval": args.interval,
                "memory_gb": float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) / 1024 ** 3,
                "load_average_1m": os.getloadavg()[0], "wall_s": time.monotonic() - began}
    if args.write:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps({"settings": settings, "headlines": heads, "rows": rows, "left_behind": left},
                                  indent=1))
        write_results(rows, heads, settings)
        print(f"wrote {OUT.relative_to(ROOT)} and {RESULTS.relative_to(ROOT)}")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
