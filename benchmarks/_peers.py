"""The peers' own virtual environments, under benchmarks/.peers/, one per peer.

Each peer gets a private venv so that its dependencies (dbtc pulls in pandas and pyarrow,
dbt-cloud-cli pins pydantic and click) never touch the dbt-runs environment, and so that each
child process pays its own import cost, as a user of that peer would.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PEERS_DIR = Path(__file__).resolve().parent / ".peers"
DRIVERS_DIR = Path(__file__).resolve().parent / "drivers"


@dataclass(frozen=True)
class PeerSpec:
    """A peer we compare against.

    Attributes:
        name: Its name in the tables.
        requirements: What to install from PyPI (the peer, plus any pin it needs to import).
        distribution: The distribution whose version we report.
        module: What must import for the peer to work.
        driver: The script, under benchmarks/drivers/, that runs the peer's own ways.
    """

    name: str
    requirements: tuple[str, ...]
    distribution: str
    module: str
    driver: str


PEERS = (
    # dbtc 0.11.7 asks for pandas<2.2 (built against NumPy 1.x) and pyarrow>=15 with no upper
    # bound; the newest pyarrow needs NumPy 2, so a plain install cannot even import dbtc.
    # Capping pyarrow is the smallest change that gives a working install of dbtc as released.
    PeerSpec("dbtc", ("dbtc", "pyarrow<20"), "dbtc", "dbtc", "drive_dbtc.py"),
    PeerSpec(
        "dbt-cloud-cli",
        ("dbt-cloud-cli",),
        "dbt-cloud-cli",
        "dbt_cloud.cli",
        "drive_dbt_cloud_cli.py",
    ),
)


@dataclass(frozen=True)
class Peer:
    """A peer whose environment is ready.

    Attributes:
        spec: Which peer.
        python: Its venv's interpreter.
        version: The installed version.
    """

    spec: PeerSpec
    python: Path
    version: str

    @property
    def name(self) -> str:
        """The peer's name in the tables."""
        return self.spec.name

    def argv(self, *args: str) -> list[str]:
        """The command line that runs this peer's driver with `args`."""
        return [str(self.python), str(DRIVERS_DIR / self.spec.driver), *args]


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True, timeout=600)


def _installed_version(python: Path, distribution: str) -> str:
    out = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({distribution!r}))"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.stdout.strip()


def _checked(spec: PeerSpec, python: Path) -> Peer:
    """The ready peer, once it imports cleanly (an install can succeed and still not import)."""
    version = _installed_version(python, spec.distribution)
    subprocess.run(
        [str(python), "-c", f"import {spec.module}"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return Peer(spec, python, version)


def ensure_peer(spec: PeerSpec, *, log: list[str]) -> Peer | None:
    """Create (or reuse) the peer's venv and install it; None, with a note in `log`, on failure.

    Uses `uv venv` + `uv pip install` when uv is on PATH, else `python -m venv` + pip. An existing
    venv with the peer importable is reused, so repeated runs do not hit the package index.
    """
    venv = PEERS_DIR / spec.name
    python = _venv_python(venv)
    try:
        if python.exists():
            try:
                # Checked when it was built: a reused environment only needs its version.
                return Peer(spec, python, _installed_version(python, spec.distribution))
            except subprocess.CalledProcessError:
                shutil.rmtree(venv)
        venv.parent.mkdir(parents=True, exist_ok=True)
        uv = shutil.which("uv")
        # The peers run on the same interpreter version as dbt-runs, so import costs compare.
        if uv:
            _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
            _run([uv, "pip", "install", "--quiet", "--python", str(python), *spec.requirements])
        else:
            _run([sys.executable, "-m", "venv", str(venv)])
            _run([str(python), "-m", "pip", "install", "--quiet", *spec.requirements])
        return _checked(spec, python)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", None) or str(exc)
        log.append(f"{spec.name}: skipped, it failed to install ({detail.strip()[-300:]})")
        return None
