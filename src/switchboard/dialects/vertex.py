"""Gemini on Vertex AI: the Gemini body and answers behind Vertex's URL scheme and OAuth.

Settings (`ProviderInfo.options`): `project` (or `project_env`, the variable holding it),
`location` (default us-central1; "global" uses the location-less host),
`credentials_file` (a service-account JSON; unset: application default credentials),
`quota_project` (sent as x-goog-user-project).

`build_request` stays pure, so it never fetches a token: the bearer token is
`provider.api_key` when set, else `provider.options["access_token"]`. The executor keeps
that token fresh with `VertexCredentials`, off the event loop because google-auth is
blocking:

    creds = VertexCredentials.for_provider(provider)           # once per provider, kept
    provider = await asyncio.to_thread(creds.apply, provider)  # before each request

`apply` returns the provider with a valid `access_token` (and the credentials' project
when none is configured), refreshing only when the token is missing or about to expire;
a provider with an `api_key` (a token minted elsewhere) is returned as it is. Note that
`ProviderInfo.configured` is false for a keyless Vertex provider unless its options set
`keyless: true`.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Mapping
from typing import Any

import google.auth
import google.auth.credentials
import google.auth.exceptions
import google.auth.transport
import httpx

from switchboard.catalog.types import ProviderInfo
from switchboard.dialects.base import UpstreamError
from switchboard.dialects.gemini import GeminiDialect

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
DEFAULT_LOCATION = "us-central1"
BASE_TEMPLATE = "https://{location}-aiplatform.googleapis.com"


def _project(provider: ProviderInfo) -> str | None:
    opts = provider.options
    if opts.get("project"):
        return str(opts["project"])
    env = opts.get("project_env")
    if not env:
        return None
    return os.environ.get(str(env)) or None


class VertexDialect(GeminiDialect):
    name = "vertex"

    def url(self, provider: ProviderInfo, upstream_model: str, stream: bool) -> str:
        location = str(provider.options.get("location") or DEFAULT_LOCATION)
        project = _project(provider)
        if not project:
            raise UpstreamError(401, f"Vertex provider {provider.name!r} has no project: set "
                                "options.project or options.project_env", "provider_auth_error")
        base = provider.base_url or BASE_TEMPLATE
        if base == BASE_TEMPLATE and location == "global":
            base = "https://aiplatform.googleapis.com"  # the global endpoint has no prefix
        base = base.replace("{location}", location)  # a base without it (a mock) is kept as is
        path = f"/v1/projects/{project}/locations/{location}/publishers/google/models/"
        return f"{base.rstrip('/')}{path}{upstream_model}:{self._method(stream)}"

    def auth_headers(self, provider: ProviderInfo) -> dict[str, str]:
        token = provider.api_key or provider.options.get("access_token")
        if not token:
            raise UpstreamError(401, f"Vertex provider {provider.name!r} has no access token: "
                                "refresh it with VertexCredentials.apply", "provider_auth_error")
        headers = {"authorization": f"Bearer {token}"}
        if provider.options.get("quota_project"):
            headers["x-goog-user-project"] = str(provider.options["quota_project"])
        return headers


class _HttpxResponse(google.auth.transport.Response):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def data(self) -> bytes:
        return self._response.content


class HttpxAuthRequest(google.auth.transport.Request):
    """google-auth's transport over httpx, so token refresh needs no `requests` install."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        self._client = client or httpx.Client(timeout=30.0)

    def __call__(self, url: str, method: str = "GET", body: bytes | None = None,
                 headers: Mapping[str, str] | None = None, timeout: float | None = None,
                 **kwargs: Any) -> _HttpxResponse:
        try:
            response = self._client.request(method, url, content=body, headers=headers,
                                            timeout=timeout or 30.0)
        except httpx.HTTPError as exc:
            raise google.auth.exceptions.TransportError(str(exc)) from exc
        return _HttpxResponse(response)


class VertexCredentials:
    """Blocking OAuth token source for Vertex; call it from a worker thread."""

    def __init__(self, credentials_file: str | None = None, *,
                 credentials: google.auth.credentials.Credentials | None = None,
                 request: google.auth.transport.Request | None = None) -> None:
        self._file = credentials_file
        self._credentials = credentials
        self._project: str | None = None
        self._request = request
        self._lock = threading.Lock()  # several requests may find the token stale at once

    @classmethod
    def for_provider(cls, provider: ProviderInfo) -> VertexCredentials:
        path = provider.options.get("credentials_file")
        return cls(str(path) if path else None)

    def _load(self) -> google.auth.credentials.Credentials:
        if self._credentials is None:
            if self._file:
                creds, project = google.auth.load_credentials_from_file(self._file, scopes=[SCOPE])
            else:
                creds, project = google.auth.default(scopes=[SCOPE])
            self._credentials, self._project = creds, project
        return self._credentials

    @property
    def project(self) -> str | None:
        """The project the credentials belong to, once loaded (a service account's own)."""
        return self._project

    def token(self) -> str:
        """A valid access token, refreshed when missing or near expiry (google-auth's margin)."""
        with self._lock:
            creds = self._load()
            if not creds.valid:
                if self._request is None:
                    self._request = HttpxAuthRequest()
                creds.refresh(self._request)
            return str(creds.token)

    def apply(self, provider: ProviderInfo) -> ProviderInfo:
        """`provider` with a fresh `access_token` (and the credentials' project if it has none)."""
        if provider.api_key:
            return provider
        options = dict(provider.options)
        options["access_token"] = self.token()
        if not _project(provider) and self._project:
            options["project"] = self._project
        return dataclasses.replace(provider, options=options)
