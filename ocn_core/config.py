"""Node settings: embedded defaults, overridable by environment (``OCN_*``) and CLI flags."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path


def _env_bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(slots=True)
class Settings:
    data_dir: Path = Path("./ocn-data")
    public_url: str = "http://127.0.0.1:8080"  # base URL parties use; must equal the registry entry
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    api_key: str = ""  # admin API key; generated and kept in data_dir when empty
    private_key: str = ""  # node key (hex); generated and kept in data_dir when empty
    signatures: bool = False  # require OCN-Signatures on every routed message
    country_code: str = "CH"  # the node's own OCPI identity (role HUB)
    party_id: str = "OCN"
    business_name: str = "Open Charging Network Node"
    connect_timeout: float = 5.0
    forward_timeout: float = 30.0  # seconds before a forwarded request answers 4002
    max_body_bytes: int = 1 << 20
    registration_token_ttl: float = 30 * 86400.0
    proxy_ttl: float = 7 * 86400.0
    # seconds between node-initiated rotations of each platform's token C (credentials PUT to
    # the party); 0 = never (rotation on demand only: admin API / ``ocn-node admin rotate``)
    credentials_rotation_interval: float = 0.0
    map_size: int = 4 << 30
    log_format: str = "auto"  # auto | json | console
    log_level: str = "info"
    registry: str = "local"  # local | ethereum
    rpc_url: str = ""
    registry_address: str = ""
    permissions_address: str = ""
    confirmations: int = 0
    # gRPC edge: `ocn-node run` also serves the ocn.v1 services on this port (0: off)
    grpc_port: int = 0
    # gRPC edge: requests one RouteStream/RouteBatchStream call may have in flight; the server
    # stops reading the stream at this bound (flow control pushes back on the caller)
    grpc_stream_inflight: int = 256
    # gateway with `--core grpc://`: deadline of admin/health calls to the core (seconds);
    # Route calls get forward_timeout + this, so the core answers 4002 before the deadline
    core_timeout: float = 5.0
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, then ``OCN_<FIELD>`` variables, then explicit ``overrides``."""
        env = os.environ if environ is None else environ
        settings = cls()
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = env.get("OCN_" + f.name.upper())
            if raw is not None:
                setattr(settings, f.name, _coerce(getattr(settings, f.name), raw))
        for name, value in overrides.items():
            if value is not None:
                setattr(settings, name, value)
        settings.public_url = settings.public_url.rstrip("/")
        settings.data_dir = Path(settings.data_dir)
        return settings

    def ensure_secrets(self) -> None:
        """Fill api_key / private_key from files in data_dir, creating them on first start."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.api_key:
            self.api_key = _persisted(self.data_dir / "admin-api-key", secrets.token_urlsafe(24))
        if not self.private_key:
            self.private_key = _persisted(self.data_dir / "node-key", secrets.token_hex(32))

    @property
    def private_key_bytes(self) -> bytes:
        return bytes.fromhex(self.private_key.removeprefix("0x"))


def _coerce(current: object, raw: str) -> object:
    if isinstance(current, bool):
        return _env_bool(raw)
    if isinstance(current, int):
        return int(raw)
    if isinstance(current, float):
        return float(raw)
    if isinstance(current, Path):
        return Path(raw)
    return raw


def _persisted(path: Path, fresh: str) -> str:
    if path.exists():
        return path.read_text().strip()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(fresh + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return fresh
