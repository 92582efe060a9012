"""Operations: log lines, request ids, Prometheus metrics, OpenTelemetry traces, readiness."""
