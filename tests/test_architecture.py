"""The lines the layout promises: the engine imports no Qt, and the live path no TensorFlow."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE = sorted(p.stem for p in (ROOT / "humanmatting_gui").glob("*.py")
                if p.stem not in ("__init__", "cli"))
LIVE_PATH = ["segmenter", "compositing", "sources", "stream", "export", "virtualcam", "batch", "backends"]


def _imports_after(modules):
    code = ("import sys\n" + "".join(f"import humanmatting_gui.{m}\n" for m in modules) +
            "print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return set(out.stdout.split())


def test_engine_imports_no_qt():
    loaded = _imports_after(ENGINE)
    assert not {m for m in loaded if m.startswith(("PySide6", "pyqtgraph", "shiboken"))}


def test_live_path_does_not_import_tensorflow():
    # TensorFlow costs seconds and ~550 MB at start-up; only .keras files and training need it
    loaded = _imports_after(LIVE_PATH)
    assert "tensorflow" not in loaded and "keras" not in loaded


@pytest.mark.parametrize("package,forbidden", [
    ("humanmatting_gui", ("humanmatting_gui.ui", "trainer", "humanmatting_gui.cli")),
    ("trainer", ("PySide6", "pyqtgraph", "humanmatting_gui.ui"))])
def test_imports_point_down(package, forbidden):
    folder = ROOT / package
    files = folder.glob("*.py") if package != "humanmatting_gui" else \
        [p for p in folder.glob("*.py") if p.stem != "cli"]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"
