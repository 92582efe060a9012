"""Runtime settings: the config file plus the environment (which wins), resolved once at start."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from switchboard.catalog.loader import build_catalog
from switchboard.catalog.types import Catalog
from switchboard.config import ConfigError, FileConf, load_file
from switchboard.execution.proxy import ProxySettings


@dataclass(slots=True)
class Settings:
    catalog: Catalog
    file: FileConf = field(default_factory=FileConf)
    database_url: str = "sqlite:///data/switchboard.db"
    redis_url: str | None = None
    admin_key: str | None = None
    data_dir: Path = Path("data")
    config_path: str | None = None
    proxies: ProxySettings = field(default_factory=ProxySettings)  # HTTP(S)_PROXY, NO_PROXY

    @property
    def markup(self) -> Decimal:
        return self.file.markup

    @property
    def max_body_bytes(self) -> int:
        return int(self.file.max_body_mb * 1024 * 1024)


def load_settings(config_path: str | None = None) -> Settings:
    """Read SWITCHBOARD_* variables and the config file; raises ConfigError on a bad file."""
    path = config_path or os.environ.get("SWITCHBOARD_CONFIG") or None
    if path:
        conf, node = load_file(path)
        catalog = build_catalog(conf, node, path)
    else:
        conf = FileConf()
        catalog = build_catalog(conf)
    data_dir = Path(os.environ.get("SWITCHBOARD_DATA_DIR", "data"))
    db = os.environ.get("SWITCHBOARD_DATABASE_URL") or f"sqlite:///{data_dir}/switchboard.db"
    try:
        proxies = ProxySettings.from_env(os.environ)
    except ValueError as exc:
        raise ConfigError(f"environment: {exc}") from None
    return Settings(
        catalog=catalog,
        file=conf,
        database_url=db,
        redis_url=os.environ.get("SWITCHBOARD_REDIS_URL") or None,
        admin_key=os.environ.get("SWITCHBOARD_ADMIN_KEY") or None,
        data_dir=data_dir,
        config_path=path,
        proxies=proxies,
    )
