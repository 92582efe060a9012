"""Builds the app's Observer from the settings: metrics unless disabled, tracing when an
OTLP endpoint is configured (the environment wins over the config file)."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from switchboard.observability.observer import Observer

if TYPE_CHECKING:
    from switchboard.settings import Settings


log = logging.getLogger("switchboard.tracing")


def otlp_endpoint(settings: Settings) -> str | None:
    return (os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
            or settings.file.tracing.otlp_endpoint or None)


def build_observer(settings: Settings) -> Observer:
    metrics = None
    if settings.file.metrics.enabled:
        from switchboard.observability.metrics import Metrics

        metrics = Metrics()
    tracing = None
    endpoint = otlp_endpoint(settings)
    if endpoint:
        try:
            from switchboard.observability.tracing import Tracing

            tracing = Tracing(endpoint, settings.file.tracing.service_name)
        except ImportError as exc:
            log.error("tracing is configured (%s) but OpenTelemetry is not installed (%s): "
                      "pip install 'switchboard[otel]'; serving without traces", endpoint, exc)
    return Observer(metrics, tracing, frozenset(settings.catalog.models))
