"""The OpenAPI document's security schemes: the three ways ``Gate`` takes the API key.

``Integrations-API-Key`` (the batch document's header), ``x-api-key`` and ``Authorization:
Bearer``, any one of them, on every operation but ``/health`` (which declares ``security: []``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["SECURITY_SCHEMES", "with_security_schemes"]

SECURITY_SCHEMES = {
    "IntegrationsApiKey": {"type": "apiKey", "in": "header", "name": "Integrations-API-Key"},
    "ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
    "Bearer": {"type": "http", "scheme": "bearer"},
}


def with_security_schemes(app: FastAPI) -> None:
    """Replace ``app.openapi`` with one that adds the schemes and the document-wide requirement."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            doc.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            doc["security"] = [{name: []} for name in SECURITY_SCHEMES]  # any one of them
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
