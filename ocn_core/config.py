"""Node settings: defaults, a TOML file, ``OCN_*`` environment variables and CLI flags.

Precedence: flags > environment > file > defaults. Every field of :class:`Settings` is a
setting: its type, its trailing comment (the documentation) and, where given through
:func:`setting`, its rule (allowed values, range, secret) are the one source for parsing,
validation, the generated CLI flags, ``ocn-node config show`` and ``docs/configuration.md``.
A plain field (``name: int = 5  # what it is``) is a setting too; numbers default to the rule
"finite and not negative".
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
import os
import re
import secrets
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

MAX_TOKEN_TTL = 365 * 86400.0  # the longest registration token / proxy lifetime accepted
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Rule:
    """What a setting accepts beyond its type."""

    choices: tuple[str, ...] = ()
    min: float | None = 0  # inclusive; numbers only
    max: float | None = None  # inclusive
    above: float | None = None  # exclusive lower bound (e.g. a TTL must be > 0)
    secret: bool = False  # masked by ``config show``
    pattern: str = ""  # a text value must match this (fully), or be empty
    shape: str = ""  # what ``pattern`` means, in words
    required_if: tuple[str, str] | None = None  # (other field, value) that makes this one required


_PLAIN = Rule()
_PARTNER_ENTRY = r"\s*[A-Za-z0-9]{5}:[0-9.]*(/[0-9]*){0,2}\s*"
_PARTNER_LIMITS = f"{_PARTNER_ENTRY}(,{_PARTNER_ENTRY})*"
_PARTNER_SHAPE = "CCPID:rate/burst/body entries separated by commas, e.g. CHCPO:50/100/65536"
_ADDRESS = {"pattern": "0x[0-9a-fA-F]{40}", "shape": "an Ethereum address 0x + 40 hex digits"}


def setting(default: _T, **rule: Any) -> _T:
    """A field with a :class:`Rule` (``choices=``, ``min=``, ``max=``, ``above=``, ``secret=``,
    ``pattern=`` + ``shape=``, ``required_if=``)."""
    result: _T = field(default=default, metadata={"rule": Rule(**rule)})
    return result


class SettingsError(ValueError):
    """One or more invalid settings; ``problems`` are complete sentences naming the source."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(slots=True)
class Settings:
    # where the node keeps its LMDB file, admin API key and node key
    data_dir: Path = Path("./ocn-data")
    # base URL parties use; must equal the registry entry (default http://<host>:<port>)
    public_url: str = ""
    host: str = "127.0.0.1"  # listen address
    port: int = setting(8080, min=1, max=65535)  # listen port
    workers: int = setting(1, min=1, max=256)  # worker processes sharing the port
    # auto: when the node may use exactly as many CPUs as it has workers (its machine, cgroup
    # or taskset), worker i runs on the i-th CPU only; off: the kernel places the workers
    worker_cpu_affinity: str = setting("auto", choices=("auto", "off"))
    api_key: str = setting("", secret=True)  # admin API key; generated in data_dir when empty
    # node key (hex); generated in data_dir when empty
    private_key: str = setting(
        "", secret=True, pattern=r"(0x)?[0-9a-fA-F]{64}", shape="64 hex digits (optional 0x)"
    )
    signatures: bool = False  # require OCN-Signatures on every routed message
    # the node's own OCPI identity (role HUB)
    country_code: str = setting("CH", pattern="[A-Za-z]{2}", shape="2 letters")
    # the node's own OCPI party id
    party_id: str = setting("OCN", pattern="[A-Za-z0-9]{3}", shape="3 letters or digits")
    business_name: str = "Open Charging Network Node"  # the node's name in its credentials
    connect_timeout: float = setting(5.0, above=0)  # seconds to connect to a party (then 4003)
    forward_timeout: float = setting(30.0, above=0)  # seconds before a forward answers 4002
    max_body_bytes: int = setting(1 << 20, min=1)  # largest request body accepted (then 413)
    # HTTP front door, per connection unless said otherwise (a timeout of 0 disables it)
    max_url_bytes: int = setting(8 << 10, min=256)  # longest request target (then 414)
    max_header_bytes: int = setting(64 << 10, min=1024)  # all header lines together (then 431)
    max_header_count: int = setting(100, min=8)  # most header lines (then 431)
    # seconds from a request's first byte to the end of its headers (then 408)
    header_timeout: float = setting(10.0, min=0)
    body_timeout: float = setting(30.0, min=0)  # seconds without a body byte (then 408)
    keepalive_timeout: float = setting(75.0, min=0)  # seconds an idle connection is kept open
    # open connections per worker, capped by the fd limit (then 503)
    max_connections: int = setting(4096, min=1)
    # requests queued on one connection before it stops reading (pipelining backpressure)
    max_pipelined: int = setting(32, min=1)
    # default lifetime of a registration token A, in seconds
    registration_token_ttl: float = setting(30 * 86400.0, above=0, max=MAX_TOKEN_TTL)
    # lifetime of a proxied resource (response_url, Link, Location), in seconds
    proxy_ttl: float = setting(7 * 86400.0, above=0, max=MAX_TOKEN_TTL)
    # seconds between node-initiated rotations of each platform's token C (credentials PUT to
    # the party); 0 = never (rotation on demand only: admin API / ``ocn-node admin rotate``)
    credentials_rotation_interval: float = setting(0.0, min=0)
    map_size: int = setting(4 << 30, min=1 << 20)  # LMDB map size in bytes (the file's maximum)
    # where node state lives: empty = LMDB in data_dir; postgresql://user:password@host:port/db =
    # PostgreSQL shared by the replicas of one node (masked by config show: it may carry a password)
    state_url: str = setting(
        "", secret=True, pattern=r"postgres(ql)?://\S+", shape="a postgresql:// URL"
    )
    state_timeout: float = setting(5.0, above=0)  # seconds a PostgreSQL state call may take (503)
    # seconds a state change waits for every replica to apply it before it is acknowledged anyway
    state_sync_timeout: float = setting(2.0, above=0)
    # log line format; auto = console on a terminal, JSON otherwise
    log_format: str = setting("auto", choices=("auto", "json", "console"))
    log_level: str = setting("info", choices=("debug", "info", "warning", "error"))  # log level
    # seconds a stopping worker waits for in-flight requests before it closes them
    shutdown_grace: float = setting(30.0, max=3600)
    # where the registry comes from: local (admin-edited) or ethereum (the OCN Registry contract)
    registry: str = setting("local", choices=("local", "ethereum"))
    # JSON-RPC URL of the chain (ethereum mode; masked by config show: it may carry an API key)
    rpc_url: str = setting("", secret=True, required_if=("registry", "ethereum"))
    # address of the OCN Registry contract (ethereum mode)
    registry_address: str = setting("", required_if=("registry", "ethereum"), **_ADDRESS)
    # address of the OCN Permissions contract (ethereum mode)
    permissions_address: str = setting("", required_if=("registry", "ethereum"), **_ADDRESS)
    confirmations: int = setting(0, max=1000)  # blocks a registry event waits before it counts
    # count Prometheus metrics in every worker and serve them at GET /metrics
    metrics: bool = True
    # GET /metrics needs the admin API key ('Authorization: Token <key>' or 'Bearer <key>'):
    # its per-party counters name the node's partners; off: anyone may scrape
    metrics_auth: bool = True
    # `ocn-node core`: serve GET /metrics on host:metrics_port (0: off)
    metrics_port: int = setting(0, max=65535)
    # gRPC edge: `ocn-node run` also serves the ocn.v1 services on this port (0: off)
    grpc_port: int = setting(0, max=65535)
    # gRPC edge: requests one RouteStream/RouteBatchStream call may have in flight; the server
    # stops reading the stream at this bound (flow control pushes back on the caller)
    grpc_stream_inflight: int = setting(256, min=1)
    # gateway with `--core grpc://`: deadline of admin/health calls to the core (seconds);
    # Route calls get forward_timeout + this, so the core answers 4002 before the deadline
    core_timeout: float = setting(5.0, above=0)
    # seconds between chain polls of the registry follower (how fast a party move is seen)
    registry_poll_interval: float = setting(5.0, above=0, max=3600)
    # federation (node to node over /ocn/message): seconds a (sending node, request id) stays
    # refused as a replay
    message_replay_window: float = setting(3600.0, above=0, max=MAX_TOKEN_TTL)
    # outbound URL policy for node URLs (registry) and party URLs (credentials): loopback
    # (127.0.0.0/8, ::1) only with this development setting or when public_url is loopback
    allow_loopback_urls: bool = False
    allow_private_urls: bool = False  # private / link-local (metadata) ranges allowed
    service_interface: bool = True  # copy requests to agreed service providers (Permissions)
    # HubClientInfo: seconds between still-alive checks of a platform (GET of its versions
    # endpoint with token B; OFFLINE when it fails, CONNECTED again when it answers)
    still_alive_interval: float = setting(300.0, above=0)
    # HubClientInfo: seconds between searches of the registry for parties listed with this node
    # but not registered here (reported as PLANNED)
    planned_party_interval: float = setting(3600.0, above=0)
    # Broadcast Push: requests waiting per receiving platform (more are dropped and counted)
    fanout_queue: int = setting(1000, min=1)
    # Broadcast Push: requests in flight at once per receiving platform
    fanout_concurrency: int = setting(8, min=1)
    # requests per second a sending party may make (0: no limit; over it HTTP 429 + Retry-After)
    partner_rate_limit: float = 0.0
    # requests a sending party may make in a burst (0: the rate, at least 1)
    partner_rate_burst: int = 0
    # largest request body a sending party may send, in bytes (0: only max_body_bytes)
    partner_max_body_bytes: int = 0
    # per-party overrides of the three limits above: CCPID:rate/burst/body, comma separated
    partner_limits: str = setting("", pattern=_PARTNER_LIMITS, shape=_PARTNER_SHAPE)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if not self.public_url:
            host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
            self.public_url = f"http://{host}:{self.port}"
        self.public_url = self.public_url.rstrip("/")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, then ``OCN_<FIELD>`` variables, then ``overrides`` (None = not given)."""
        return load(environ=environ, overrides=overrides)[0]

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


# --- the settings' metadata -------------------------------------------------------------------


def settings_fields() -> Iterator[Field[Any]]:
    yield from fields(Settings)


def rule_of(f: Field[Any]) -> Rule:
    rule = f.metadata.get("rule")
    return rule if isinstance(rule, Rule) else _PLAIN


def env_name(name: str) -> str:
    return "OCN_" + name.upper()


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def default_of(f: Field[Any]) -> Any:
    return f.default if f.default is not MISSING else None


def kind_of(f: Field[Any]) -> str:
    """``bool``, ``int``, ``float``, ``path`` or ``str`` (from the annotation)."""
    annotation = str(f.type)
    return {"bool": "bool", "int": "int", "float": "float", "Path": "path"}.get(annotation, "str")


@functools.cache
def docs() -> dict[str, str]:
    """Each field's documentation: the comment lines above it and its trailing comment."""
    names = {f.name for f in settings_fields()}
    found: dict[str, str] = {}
    above: list[str] = []
    for line in inspect.getsource(Settings).splitlines():
        text = line.strip()
        if text.startswith("#"):
            above.append(text[1:].strip())
            continue
        match = re.match(r"(\w+)\s*:[^#]*(?:#\s*(.*))?$", text)
        if match and match.group(1) in names and match.group(1) not in found:
            found[match.group(1)] = " ".join([*above, match.group(2) or ""]).strip()
        above = []
    return found


def accepted(f: Field[Any]) -> str:
    """What a setting accepts, in words (used in errors and in the reference table)."""
    rule, kind = rule_of(f), kind_of(f)
    if rule.choices:
        return "one of " + ", ".join(rule.choices)
    if kind == "bool":
        return "a boolean (true/false, 1/0, yes/no, on/off)"
    if kind in ("int", "float"):
        noun = "an integer" if kind == "int" else "a finite number"
        low = (
            f"> {_num(rule.above)}"
            if rule.above is not None
            else (f">= {_num(rule.min)}" if rule.min is not None else "")
        )
        high = f"<= {_num(rule.max)}" if rule.max is not None else ""
        bounds = " and ".join(b for b in (low, high) if b)
        return f"{noun} {bounds}".strip()
    if kind == "path":
        return "a path"
    return rule.shape or "a string"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# --- parsing and validation -------------------------------------------------------------------


def parse(f: Field[Any], raw: object, origin: str) -> Any:
    """``raw`` (text from env/flags, or a TOML value) as the field's type, checked by its rule.

    Raises :class:`SettingsError` naming ``origin`` (e.g. ``OCN_PORT``, ``--port``,
    ``node.toml: port``) and what the setting accepts.
    """
    kind, rule = kind_of(f), rule_of(f)

    def bad(why: str = "") -> SettingsError:
        shown = raw if isinstance(raw, str) else repr(raw)
        if rule.secret:
            shown = "(hidden)"
        return SettingsError([f"{origin}={shown!s}: {why or 'expected ' + accepted(f)}"])

    value: Any
    if kind == "bool":
        if isinstance(raw, bool):
            value = raw
        elif isinstance(raw, str) and raw.strip().lower() in _TRUE + _FALSE:
            value = raw.strip().lower() in _TRUE
        else:
            raise bad()
    elif kind in ("int", "float"):
        if isinstance(raw, bool):
            raise bad()
        try:
            if kind == "int":
                if isinstance(raw, float) and not raw.is_integer():
                    raise ValueError
                value = int(raw.strip()) if isinstance(raw, str) else int(raw)  # type: ignore[call-overload]
            else:
                value = float(raw.strip()) if isinstance(raw, str) else float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            raise bad() from None
        if not math.isfinite(value):
            raise bad()
        if rule.above is not None and not value > rule.above:
            raise bad()
        if rule.above is None and rule.min is not None and value < rule.min:
            raise bad()
        if rule.max is not None and value > rule.max:
            raise bad()
    elif isinstance(raw, str | Path):
        value = Path(raw) if kind == "path" else str(raw)
        if kind == "path" and not str(raw).strip():
            raise bad("expected a non-empty path")
        if rule.choices:
            value = str(value).strip().lower()
            if value not in rule.choices:
                raise bad()
        if rule.pattern and value and not re.fullmatch(rule.pattern, str(value)):
            raise bad()
    else:
        raise bad()
    return value


def _check_whole(values: dict[str, Any], origins: dict[str, str]) -> list[str]:
    """Rules that span fields: required-if, the public URL's form."""
    problems = []
    for f in settings_fields():
        rule = rule_of(f)
        needed = rule.required_if
        given = f.name in origins  # an invalid given value is reported on its own
        if needed and values.get(needed[0]) == needed[1] and not given and not values.get(f.name):
            problems.append(
                f"{env_name(f.name)} / {flag_name(f.name)} is required when "
                f"{needed[0]} = {needed[1]}"
            )
    url = str(values.get("public_url") or "")
    if url and not re.match(r"https?://[^\s/?#]+(/[^\s?#]*)?$", url):
        origin = origins.get("public_url", "public_url")
        problems.append(f"{origin}={url}: expected an http(s) base URL without query or fragment")
    return problems


def read_file(path: Path) -> dict[str, Any]:
    """The ``name = value`` pairs of a TOML settings file (checked by :func:`load`)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError([f"{path}: not valid TOML: {exc}"]) from None


def _suggest(key: str, names: set[str]) -> str:
    close = difflib.get_close_matches(key.replace("-", "_").lower(), sorted(names), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load(
    *,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    flags: Mapping[str, object] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> tuple[Settings, dict[str, str]]:
    """Effective settings and where each non-default one came from.

    ``flags`` are raw CLI values (text, or bool for switches) keyed by field name;
    ``overrides`` are typed values from code (tests, embedders), checked like the rest.
    Every problem is collected and raised together as one :class:`SettingsError`.
    """
    env = os.environ if environ is None else environ
    file_values = read_file(config_file) if config_file is not None else {}
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    names = {f.name for f in settings_fields()}
    problems = [
        f"{config_file}: unknown setting {key!r}" + _suggest(key, names)
        for key in file_values
        if key not in names
    ]
    problems += [
        f"unknown setting {key!r} (set in code)" + _suggest(key, names)
        for key, value in (overrides or {}).items()
        if key not in names and value is not None
    ]
    for f in settings_fields():
        candidates = (
            ((overrides or {}).get(f.name), f"{f.name} (set in code)"),
            ((flags or {}).get(f.name), flag_name(f.name)),
            (env.get(env_name(f.name)), env_name(f.name)),
            (file_values.get(f.name), f"{config_file}: {f.name}"),
        )
        for raw, origin in candidates:
            if raw is None:
                continue
            try:
                values[f.name] = parse(f, raw, origin)
            except SettingsError as exc:
                problems += exc.problems
            origins[f.name] = origin
            break
    problems += _check_whole(values, origins)
    if problems:
        raise SettingsError(problems)
    return Settings(**values), origins


NOT_SETTINGS = ("OCN_CONFIG", "OCN_CORE_")  # OCN_* variables that are not settings (prefixes)


def unknown_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """Warnings for ``OCN_*`` variables that name no setting (a typo would go unnoticed)."""
    env = os.environ if environ is None else environ
    known = sorted(env_name(f.name) for f in settings_fields())
    warnings = []
    for key in sorted(env):
        if not key.startswith("OCN_") or key in known or key.startswith(NOT_SETTINGS):
            continue
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        warnings.append(f"{key} is not a setting and is ignored{hint}")
    return warnings


def masked(settings: Settings) -> dict[str, Any]:
    """The settings as plain values, secrets replaced by ``********`` when set."""
    shown: dict[str, Any] = {}
    for f in settings_fields():
        value = getattr(settings, f.name)
        if rule_of(f).secret and value:
            value = "********"
        shown[f.name] = str(value) if isinstance(value, Path) else value
    return shown


def reference_markdown() -> str:
    """The configuration reference (``docs/configuration.md``), generated from the fields."""
    doc = docs()
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by `ocn-node config reference` from `ocn_core/config.py`; do not edit. -->",
        "",
        "Every setting can be given, highest precedence first, as a command-line flag of",
        "`ocn-node run` / `ocn-node core`, as an environment variable, as a key of the TOML file",
        "named by `--config` (or `OCN_CONFIG`), or left at its default. `ocn-node config show`",
        "prints the effective values (secrets masked) and where each came from;",
        "`ocn-node config check FILE` validates a file. Booleans accept true/false, 1/0, yes/no,",
        "on/off.",
        "",
        "| Setting (file key) | Environment | Flag | Default | Accepts | Description |",
        "|---|---|---|---|---|---|",
    ]
    for f in settings_fields():
        default = default_of(f)
        if f.name == "public_url":
            shown = "`http://<host>:<port>`"
        elif rule_of(f).secret and not default:
            generated = f.name in ("api_key", "private_key")
            shown = "generated in data_dir" if generated else "(none)"
        else:
            shown = f"`{str(default).lower() if isinstance(default, bool) else default}`"
        flag = (
            f"`{flag_name(f.name)}` / `--no-{flag_name(f.name)[2:]}`"
            if kind_of(f) == "bool"
            else f"`{flag_name(f.name)}`"
        )
        lines.append(
            f"| `{f.name}` | `{env_name(f.name)}` | {flag} | {shown} | {accepted(f)} "
            f"| {doc.get(f.name, '')} |"
        )
    example = "\n".join(
        [
            "",
            "Example `node.toml`:",
            "",
            "```toml",
            'data_dir = "/var/lib/ocn"',
            'public_url = "https://node.example.com"',
            "port = 8080",
            "workers = 2",
            "signatures = true",
            'log_level = "info"',
            "```",
            "",
        ]
    )
    return "\n".join(lines) + "\n" + example


def _persisted(path: Path, fresh: str) -> str:
    if path.exists():
        return path.read_text().strip()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(fresh + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return fresh
