"""The direction of imports that docs/ARCHITECTURE.md states, checked on every module of every app."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ORDER = ["forexgpt_site", "marketdata", "registry", "training", "forecasts", "conformal", "backtesting_app"]
WIRING = {"forexgpt_site/urls.py", "forexgpt_site/views.py", "forexgpt_site/management/commands/bootstrap_demo.py"}
# The one read against the flow (the document says why): a forecast set's lo / hi from its attached calibration.
AGAINST_THE_FLOW = {("forecasts/selectors.py", "conformal")}


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def _modules():
    for app in ORDER:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield app, path.relative_to(ROOT).as_posix(), path


def test_apps_import_only_to_their_left_and_only_public_modules():
    rank = {app: i for i, app in enumerate(ORDER)}
    wrong = []
    for app, name, path in _modules():
        for module in _imports(path):
            parts = module.split(".")
            target = parts[0]
            if target not in rank or target == app:
                continue
            if name not in WIRING and rank[target] > rank[app] and (name, target) not in AGAINST_THE_FLOW:
                wrong.append(f"{name} imports {module}: {target} is to the right of {app}")
            if any(p.startswith("_") and p != "__init__" for p in parts[1:]) and "engine" not in parts:
                wrong.append(f"{name} imports {module}: a private module of another app")
            if "management" in parts:
                wrong.append(f"{name} imports {module}: another app's management command")
    assert not wrong, "\n".join(wrong)


def test_the_rule_is_checked_on_real_modules():
    """The walk sees every app's modules (a broken path would make the test above pass on nothing)."""
    seen = {app for app, _, _ in _modules()}
    assert seen == set(ORDER) and sum(1 for _ in _modules()) > 100
