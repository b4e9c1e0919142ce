# JupyterHub for one class on one machine: `make hub` (deploy/classhub.py) checks the settings and
# runs `jupyterhub -f deploy/jupyterhub_config.py` with them in the environment (CLASS_*, HUB_PORT).
#
# Spawner: every student's server runs as the hub's own user, in a home folder of its own
# (SimpleLocalProcessSpawner). No system users are made, so it runs anywhere, as root or not; but the
# students are not kept apart: any student can read or change another's files, and run anything the
# hub's user may run. Use it for a class you trust on a machine that holds nothing else, and only on
# 127.0.0.1 (or behind an SSH tunnel). For strangers, use The Littlest JupyterHub (a system user per
# student, limits enforced by systemd) or Zero to JupyterHub (deploy/z2jh-values.yaml).
# ruff: noqa: F821  (`c` and `get_config` are given by JupyterHub when it reads this file)

import os
import resource
import shutil
import sys
from pathlib import Path

from jupyterhub.spawner import SimpleLocalProcessSpawner

sys.path.insert(0, str(Path(__file__).resolve().parent))
import classhub  # noqa: E402

c = get_config()
settings = classhub.settings_from_env()
if len(settings.password) < classhub.MIN_PASSWORD:  # never a hub anyone can enter
    raise SystemExit(str(classhub.HubError(
        "CLASS_PASSWORD が空か短すぎます。`make hub` で起動してください(パスワードを作って表示します)。",
        "CLASS_PASSWORD is empty or too short: start the hub with `make hub` (it makes one and prints it).")))

ROOT, VENV, STATE = classhub.ROOT, classhub.VENV, settings.state.resolve()
HOMES = STATE / "home"
RUNS = STATE / "explorer-runs"  # notebook 06's explorer runs, shared by the class
public, proxy_api, hub_port = classhub.ports(settings.port)
MEM_LIMIT = classhub.memory_bytes(settings.mem_limit)

# --- the hub, on this machine only ---------------------------------------------------------------
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = public
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = hub_port
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{proxy_api}"
c.ConfigurableHTTPProxy.command = [os.environ.get("CLASS_PROXY") or classhub.proxy_command()]
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every student's server
c.JupyterHub.shutdown_on_logout = False

# --- who may log in: the teacher's list, one shared class password --------------------------------
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = settings.password
c.Authenticator.allowed_users = set(settings.users)

if settings.service_token:  # benchmarks/class_bench.py drives the hub through its REST API
    c.JupyterHub.services = [{"name": "class-bench", "api_token": settings.service_token}]
    c.JupyterHub.load_roles = [{
        "name": "class-bench", "services": ["class-bench"],
        "scopes": ["admin:users", "admin:servers", "tokens", "list:users", "read:users", "access:servers"]}]


# --- each student's server ------------------------------------------------------------------------
class ClassSpawner(SimpleLocalProcessSpawner):
    """A home per student under CLASS_STATE/home, and a memory limit the kernel itself feels."""

    def make_preexec_fn(self, name):
        base = super().make_preexec_fn(name)
        limit = MEM_LIMIT

        def preexec():
            base()
            # The limit on private memory is inherited by the kernel: an allocation past it fails
            # inside the cell (MemoryError, a clear message), instead of the kernel dying unseen.
            resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))

        return preexec


def copy_series(spawner):
    """Before a server starts: the series in the student's home (never over a student's own copy)."""
    home = Path(spawner.home_dir)
    for source in [ROOT / "README.md", *sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")),
                   *sorted((ROOT / "docs").rglob("*.*"))]:
        target = home / source.relative_to(ROOT)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    startup = home / ".ipython" / "profile_default" / "startup" / "00-class-limits.py"
    startup.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "deploy" / "kernel_startup.py", startup)
    if classhub.japanese_pack():  # JupyterLab's menus in Japanese, unless the student chose otherwise
        settings_file = (home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "translation-extension"
                         / "plugin.jupyterlab-settings")
        if not settings_file.exists():
            settings_file.parent.mkdir(parents=True, exist_ok=True)
            settings_file.write_text('{"locale": "ja_JP"}\n')


c.JupyterHub.spawner_class = ClassSpawner
c.ClassSpawner.home_dir_template = str(HOMES / "{username}")
c.Spawner.pre_spawn_hook = copy_series
c.Spawner.cmd = [str(VENV / "bin" / "jupyterhub-singleuser")]  # the project's .venv is the kernel too
c.Spawner.default_url = "/lab/tree/notebooks/00_overview.ipynb"
c.Spawner.mem_limit = settings.mem_limit  # enforced above; shown to the kernel as MEM_LIMIT
c.Spawner.cpu_limit = settings.cpu_limit  # shown as CPU_LIMIT; one thread per kernel keeps it to a core
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90
c.Spawner.environment = {
    "PATH": f"{VENV / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",  # helpers.setup keeps torch at 1
    "TRAINING_FLOW_EXPLORER_CACHE": str(RUNS),
    "CLASS_MEM_LIMIT_BYTES": str(MEM_LIMIT),
}
c.Spawner.args = [
    *(["--ServerApp.allow_root=True"] if os.geteuid() == 0 else []),  # every server runs as the hub's user
    "--MappingKernelManager.cull_idle_timeout=1800",  # a kernel idle 30 minutes gives its memory back
    "--MappingKernelManager.cull_interval=300",
    "--ServerApp.shutdown_no_activity_timeout=3600",  # a server unused for an hour stops
]
