"""``docflow-openapi``: the HTTP API's OpenAPI document, generated from the functions' routes.

Both functions' resolvers describe their routes from the shared models; this merges them into
one document. ``make openapi`` writes ``docs/openapi.yaml`` (``--check`` fails when the committed
file differs from the code); the local gateway serves the same document at ``/openapi.json``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from .functions import ROUTES
from .stack import Ports, child_environment

DOCUMENT = Path("docs/openapi.yaml")
TITLE = "docflow"
VERSION = "1.0.0"
DESCRIPTION = (
    "Durable document workflows behind a stateless Lambda front door. Every error answer is "
    '{"error", "message", "details"}. When DOCFLOW_API_TOKEN is set, every route requires '
    "'Authorization: Bearer <token>'."
)


def openapi_document() -> dict[str, Any]:
    """One OpenAPI 3.1 document for every route the gateway (and the SAM template) serves."""
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    modules = sorted({target.partition(":")[0] for _, _, target in ROUTES})
    for module in modules:
        app = importlib.import_module(module).app
        spec = json.loads(app.get_openapi_json_schema(title=TITLE, version=VERSION))
        document["paths"].update(spec["paths"])
        document["components"]["schemas"].update(spec.get("components", {}).get("schemas", {}))
    document["paths"] = dict(sorted(document["paths"].items()))
    document["components"]["schemas"] = dict(sorted(used_schemas(document).items()))
    return document


def used_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """The schemas something refers to: powertools adds its own validation-error schemas, but
    every error here is answered as ErrorBody."""
    schemas = dict(document["components"]["schemas"])
    while True:
        text = json.dumps({**document, "components": {"schemas": schemas}})
        unused = [name for name in schemas if f'"#/components/schemas/{name}"' not in text]
        if not unused:
            return schemas
        for name in unused:
            del schemas[name]


def as_yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="docflow-openapi", description=__doc__)
    parser.add_argument("--check", action="store_true", help=f"fail if {DOCUMENT} is stale")
    args = parser.parse_args(argv)
    # The functions validate their settings as they are imported: give them the local stack's.
    os.environ.update(child_environment(Ports()))
    text = as_yaml(openapi_document())
    if args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != text:
            sys.exit(f"{DOCUMENT} differs from the code: run `make openapi` and commit it")
        print(f"{DOCUMENT} matches the code")
        return
    DOCUMENT.write_text(text)
    print(f"wrote {DOCUMENT}")


if __name__ == "__main__":
    main()
