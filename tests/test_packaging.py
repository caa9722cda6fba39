"""Both ways of installing pleromad make ``twistd pleromad`` available."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def plugin_listed(python: Path) -> bool:
    result = subprocess.run(
        [str(python), "-m", "twisted", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )
    return any(line.split()[:1] == ["pleromad"] for line in result.stdout.splitlines())


def test_editable_install_exposes_the_plugin() -> None:
    """The test environment is an editable install; twistd finds the plugin from any folder."""
    assert plugin_listed(BIN / "python")


def test_wheel_install_exposes_the_plugin(tmp_path: Path) -> None:
    """A regular (wheel) install puts the plugin where twistd scans, with the SQL files."""
    subprocess.run(
        [
            str(BIN / "python"),
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    wheel = next((tmp_path / "dist").glob("pleromad-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    target = Path(
        subprocess.run(
            [
                str(venv / "bin/python"),
                "-c",
                "import sysconfig; print(sysconfig.get_path('purelib'))",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # The dependencies come from the test environment, but not its editable
    # pleromad: a path listed in a .pth file has its own .pth files ignored.
    (target / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [
            str(BIN / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    for plugin in ("plugin", "mailers", "captchas", "uploaders"):
        assert (target / f"twisted/plugins/pleromad_{plugin}.py").exists()
    assert not (target / "twisted/plugins/dropin.cache").exists()
    assert (target / "pleromad/static/images/mascot.png").exists()
    assert (target / "pleromad/static/emoji/emoji.txt").exists()
    assert (target / "pleromad/db/migrations/0001_settings.sql").exists()
    located = subprocess.run(
        [str(venv / "bin/python"), "-c", "import pleromad; print(pleromad.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    ).stdout
    assert located.startswith(str(target))
    assert plugin_listed(venv / "bin/python")
