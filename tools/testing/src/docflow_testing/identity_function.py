"""A Lambda handler for gateway tests: it counts its invocations (a line each in the file
``DOCFLOW_INVOCATIONS_FILE`` names) and answers with the identity the gateway handed it
(``requestContext.authorizer``), so a test sees both who reached it and that nobody else did."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with Path(os.environ["DOCFLOW_INVOCATIONS_FILE"]).open("a") as invocations:
        invocations.write("invoked\n")
    identity = event["requestContext"].get("authorizer")
    return {"statusCode": 200, "body": json.dumps({"authorizer": identity})}
