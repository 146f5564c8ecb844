"""A Lambda handler for gateway tests: it answers only once the test's barrier lets it through
(``{"barrier": URL}`` in the body), with the process it ran in. Requests served one after the
other would wait at the barrier for ever; served side by side, they pass it together."""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    barrier = json.loads(event["body"])["barrier"]
    with urllib.request.urlopen(barrier, timeout=60) as answer:  # noqa: S310 - the test's loopback
        answer.read()
    return {"statusCode": 200, "body": json.dumps({"pid": os.getpid()})}
