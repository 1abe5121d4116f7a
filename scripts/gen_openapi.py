"""Write each service's OpenAPI document to docs/api/<service>.json (the API reference).

Run after changing an endpoint: ``uv run python scripts/gen_openapi.py``. A unit test
checks the files are current.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVICES = ("intake", "router", "escalation", "notifier")


def render(service: str) -> str:
    import importlib

    from shared.settings import Settings

    module = importlib.import_module(f"services.{service}.app")
    app = module.create_app(Settings(environment="test"))
    return json.dumps(app.openapi(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def main() -> None:
    out = ROOT / "docs" / "api"
    out.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        (out / f"{service}.json").write_text(render(service), encoding="utf-8")
        print(f"wrote docs/api/{service}.json")


if __name__ == "__main__":
    main()
