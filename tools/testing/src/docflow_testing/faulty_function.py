"""A Lambda handler for gateway tests that fails as the body asks (``{"fail": HOW}``): it raises,
answers what JSON cannot carry, ends its process, or runs for ``seconds`` (``{"fail": "hang",
"seconds": S}``); any other body is answered with its pid."""

from __future__ import annotations

import json
import os
import time
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    how = json.loads(event["body"]).get("fail")
    if how == "raise":
        raise RuntimeError("the handler failed")
    if how == "unserialisable":
        return {"statusCode": 200, "body": {1, 2}}  # a set: Lambda could not serialise it
    if how == "exit":
        os._exit(3)
    if how == "hang":
        time.sleep(json.loads(event["body"])["seconds"])
    return {"statusCode": 200, "body": json.dumps({"pid": os.getpid()})}
