"""The application factory. Nothing happens at import: ``create_app`` builds the engine, session
factory and cipher from settings and keeps them on ``app.state``.

Run with ``uvicorn --factory arrears.web.app:create_app``.
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

from arrears.agreements import api as agreements_api
from arrears.audit import api as audit_api
from arrears.auth import api as auth_api
from arrears.auth.service import DEFAULT_TOKEN_TTL
from arrears.cases import api as cases_api
from arrears.cases import work_api as case_work_api
from arrears.complaints import api as complaints_api
from arrears.credit import api as credit_api
from arrears.db.engine import make_engine, make_session_factory
from arrears.delinquency import api as delinquency_api
from arrears.legal import api as legal_api
from arrears.loans import api as loans_api
from arrears.negotiation import api as negotiation_api
from arrears.privacy import PersonalDataCipher
from arrears.queues import api as queues_api
from arrears.scores import api as scores_api
from arrears.settings import Settings, load_settings
from arrears.web import pages, portal, workbench
from arrears.web.dashboards import router as dashboards_router
from arrears.web.deps import check_guarded
from arrears.web.desk import router as desk_router
from arrears.web.errors import install_error_handlers
from arrears.web.i18n import LocaleMiddleware, load_catalogues
from arrears.web.legal_desk import router as legal_desk_router
from arrears.writeoff import api as writeoff_api

API = "/api/v1"
STATIC = Path(__file__).parent / "static"
SWAGGER = "/static/vendor/swagger-ui"  # swagger-ui-dist, vendored: the docs page works offline


def _token_ttl() -> timedelta:
    """ARREARS_TOKEN_TTL_HOURS (e.g. 8 or 0.5), else 12 hours."""
    text = os.environ.get("ARREARS_TOKEN_TTL_HOURS", "").strip()
    if not text:
        return DEFAULT_TOKEN_TTL
    try:
        seconds = int(Decimal(text) * 3600)
    except (InvalidOperation, ValueError, OverflowError):
        raise RuntimeError(f"ARREARS_TOKEN_TTL_HOURS={text!r} is not a number of hours") from None
    if seconds <= 0:
        raise RuntimeError("ARREARS_TOKEN_TTL_HOURS must be positive")
    return timedelta(seconds=seconds)


async def _api_docs(request: Request) -> HTMLResponse:
    """Swagger UI from the package's own files (no CDN), without the online validator badge."""
    return get_swagger_ui_html(openapi_url=f"{API}/openapi.json", title="arrears API",
                               swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
                               swagger_css_url=f"{SWAGGER}/swagger-ui.css",
                               swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
                               swagger_ui_parameters={"validatorUrl": None})


def create_app(settings: Settings | None = None, *, token_ttl: timedelta | None = None) -> FastAPI:
    settings = settings or load_settings()
    engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # What start-up built (≈ 260,000 objects: catalogues, templates, mappings) lives as long as the app:
        # frozen, the collector's full passes skip it (they cost ≈ 130 ms every few requests: the pages' p95).
        gc.freeze()
        yield
        gc.unfreeze()
        engine.dispose()

    app = FastAPI(title="arrears", version="0.1.0", summary="Overdue-loan handling for inclusive finance",
                  openapi_url=f"{API}/openapi.json", docs_url=None, redoc_url=None,
                  swagger_ui_oauth2_redirect_url=None,
                  lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.cipher = PersonalDataCipher(settings.secret_key)
    app.state.token_ttl = token_ttl or _token_ttl()
    install_error_handlers(app)
    routers = (
        auth_api.router,
        loans_api.router,
        audit_api.router,
        delinquency_api.router,
        legal_api.router,
        negotiation_api.router,
        queues_api.router,
        credit_api.router,
        cases_api.router,
        case_work_api.router,
        complaints_api.router,
        scores_api.router,
        agreements_api.router,
        writeoff_api.router,
        portal.router,
        desk_router,
        legal_desk_router,
        workbench.router,
        dashboards_router,
        pages.router,  # last: its catch-all page routes must not shadow the API
    )
    for router in routers:
        app.include_router(router)
    app.add_route(f"{API}/docs", _api_docs, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(LocaleMiddleware)
    load_catalogues()
    check_guarded(app)
    return app
