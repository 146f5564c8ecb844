"""The floor for the front-door benchmark: a bare powertools handler that answers 202 and does
nothing else (no validation, no Resonate)."""

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

app = APIGatewayHttpResolver()


@app.post("/floor")
def accept() -> Response[str]:
    return Response(202, "application/json", '{"status": "accepted"}')


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
