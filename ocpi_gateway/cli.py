"""``ocn-node``: run the node, run the core as a gRPC service, administer it, show its settings.

ocn-node run [--config node.toml] [--port 8080 --public-url URL --data-dir DIR --workers N ...]
ocn-node core [--listen 127.0.0.1:50051] [setting flags]
ocn-node admin token CC:PID[:ROLE] ... | platforms | platform ID | delete-platform ID
ocn-node admin status CC PID | party CC PID ROLE...
ocn-node admin connect VERSIONS_URL TOKEN_A [--ocpi-version V] | rotate ID
ocn-node registry ...   (show/list/set/delete parties and nodes, sync status)
ocn-node config show [setting flags] | check FILE | reference
ocn-node db upgrade | status   (the PostgreSQL state schema named by --state-url / OCN_STATE_URL)

Every setting of :class:`~ocn_core.config.Settings` is a flag of ``run``, ``core`` and
``config show``; ``--config``, ``--data-dir`` and ``--version`` are accepted by every command,
before or after its subcommand. Settings: flags > ``OCN_*`` env > ``--config`` file > defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import structlog

from ocn_core import config
from ocn_core.config import Settings, SettingsError
from ocn_core.datadir_lock import DataDirInUse
from ocn_core.errors import OcnError
from ocn_core.logconfig import configure_logging
from ocn_core.timefmt import human_times

log = structlog.get_logger(__name__)
_FLAG = "setting_"  # dest prefix of setting flags (admin's positional country_code must not clash)


def version() -> str:
    try:
        return metadata.version("ocn-router")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        return "0+unknown"


def _setting_flags(p: argparse.ArgumentParser, only: tuple[str, ...] = ()) -> None:
    """One flag per setting (or per setting in ``only``), text parsed by the settings' rules."""
    docs = config.docs()
    for f in config.settings_fields():
        if only and f.name not in only:
            continue
        flag = config.flag_name(f.name)
        if flag in p._option_string_actions:
            continue
        help_text = f"{docs.get(f.name, '')} (env {config.env_name(f.name)}; {config.accepted(f)})"
        if config.kind_of(f) == "bool":
            p.add_argument(
                flag,
                dest=_FLAG + f.name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=help_text,
            )
        else:
            p.add_argument(
                flag,
                dest=_FLAG + f.name,
                default=argparse.SUPPRESS,
                metavar=f.name.upper(),
                help=help_text,
            )


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield from _parsers(child)


def _common_options(parser: argparse.ArgumentParser) -> None:
    """``--version``, ``--config`` and ``--data-dir`` on every command and subcommand."""
    for p in _parsers(parser):
        p.add_argument("--version", action="version", version=f"ocn-node {version()}")
        p.add_argument(
            "--config",
            default=argparse.SUPPRESS,
            metavar="FILE",
            help="TOML settings file (env OCN_CONFIG); flags and env override it",
        )
        _setting_flags(p, only=("data_dir",))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocn-node", description="Open Charging Network node")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the OCPI gateway (embedded core by default)")
    _setting_flags(run)
    run.add_argument("--core", default="", help="grpc://HOST:PORT of a separately running core")

    core = sub.add_parser("core", help="run the routing engine as a gRPC service")
    _setting_flags(core)
    core.add_argument("--listen", default="127.0.0.1:50051", help="gRPC listen address")
    core.add_argument("--no-reflection", action="store_true", help="disable gRPC reflection")

    admin = sub.add_parser("admin", help="administer the node's platforms (local data dir)")
    _setting_flags(admin, only=("public_url",))
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    token = admin_sub.add_parser("token", help="issue a registration token (token A)")
    token.add_argument("roles", nargs="+", help="CC:PID[:ROLE] the token may register")
    token.add_argument("--ttl", help="seconds until the token expires (finite, > 0, capped)")
    admin_sub.add_parser("platforms", help="list connected platforms")
    show = admin_sub.add_parser("platform", help="show one platform")
    show.add_argument("platform_id")
    delete = admin_sub.add_parser("delete-platform", help="remove a platform and its tokens")
    delete.add_argument("platform_id")
    status = admin_sub.add_parser("status", help="connection status of a party")
    status.add_argument("country_code")
    status.add_argument("party_id")
    party = admin_sub.add_parser("party", help="list a party with this node (local registry)")
    party.add_argument("country_code")
    party.add_argument("party_id")
    party.add_argument("roles", nargs="+", help="CPO, EMSP, ...")
    party.add_argument("--address", default="", help="the party's signing address")
    connect = admin_sub.add_parser("connect", help="register the node with a party (its token A)")
    connect.add_argument("versions_url", help="the party's OCPI versions URL")
    connect.add_argument("token_a", help="the token A the party issued to this node")
    connect.add_argument(
        "--ocpi-version", default="", help="OCPI version to use (default: the newest common one)"
    )
    rotate = admin_sub.add_parser("rotate", help="rotate a platform's token C (credentials PUT)")
    rotate.add_argument("platform_id")

    from ocpi_gateway.registry_cli import add_registry_commands

    add_registry_commands(sub)

    cfg = sub.add_parser("config", help="show, check and document the node's settings")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True)
    _setting_flags(cfg_sub.add_parser("show", help="the effective settings, secrets masked"))
    cfg_sub.add_parser("check", help="validate a TOML settings file").add_argument("file")
    cfg_sub.add_parser("reference", help="the settings reference (docs/configuration.md)")

    db = sub.add_parser("db", help="the PostgreSQL state database (state_url): schema migrations")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    for name, text in (("upgrade", "apply pending migrations"), ("status", "schema versions")):
        _setting_flags(db_sub.add_parser(name, help=text), only=("state_url", "state_timeout"))

    _common_options(parser)
    return parser


def load_settings(args: argparse.Namespace) -> tuple[Settings, dict[str, str]]:
    """Flags > env > ``--config`` / ``OCN_CONFIG`` file > defaults, validated."""
    file = getattr(args, "config", None) or os.environ.get("OCN_CONFIG") or None
    flags = {
        f.name: getattr(args, _FLAG + f.name)
        for f in config.settings_fields()
        if hasattr(args, _FLAG + f.name)
    }
    if getattr(args, "data_dir", None) is not None:  # the registry commands' own --data-dir
        flags.setdefault("data_dir", args.data_dir)
    return config.load(config_file=Path(file) if file else None, flags=flags)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "config":
            return _config(args)
        settings, origins = load_settings(args)
        if args.command in ("run", "core"):
            for warning in config.unknown_env():
                print(f"ocn-node: warning: {warning}", file=sys.stderr)
        if args.command == "run":
            from ocpi_gateway.server import run

            return run(settings, args.core)
        if args.command == "core":
            return _run_core(settings, args)
        if args.command == "admin":
            return _admin(settings, origins, args)
        if args.command == "db":
            return _db(settings, args.db_command)
        from ocpi_gateway.registry_cli import run_registry_command

        return int(run_registry_command(args, settings))
    except SettingsError as exc:
        _fail("invalid settings", exc.problems)
        return 2
    except DataDirInUse as exc:
        _fail(str(exc))
        return 1


def _fail(message: str, details: list[str] | None = None) -> None:
    lines = [f"ocn-node: error: {message}", *(f"  - {d}" for d in details or [])]
    print("\n".join(lines), file=sys.stderr)


def _config(args: argparse.Namespace) -> int:
    if args.config_command == "reference":
        sys.stdout.write(config.reference_markdown())
        return 0
    if args.config_command == "check":
        try:
            config.load(environ={}, config_file=Path(args.file))
        except SettingsError as exc:
            _fail(f"{args.file} is not valid", exc.problems)
            return 2
        print(f"{args.file}: valid")
        return 0
    settings, origins = load_settings(args)
    for warning in config.unknown_env():
        print(f"ocn-node: warning: {warning}", file=sys.stderr)
    print("# effective settings of ocn-node (flags > environment > file > defaults)")
    for name, value in config.masked(settings).items():
        origin = origins.get(name, "default")
        if name == "public_url" and name not in origins:
            origin = "derived from host and port"
        shown = json.dumps(value)
        if value == "" and name in ("api_key", "private_key"):
            origin = "generated in data_dir on first start"
        print(f"{name} = {shown}  # {origin}")
    return 0


def _db(settings: Settings, command: str) -> int:
    """``db upgrade`` applies pending migrations (idempotent); ``db status`` only reports."""
    from ocn_core.state.pg_schema import LATEST, MIGRATIONS, SchemaTooNew, upgrade_database

    if not settings.state_url:
        _fail("no state database: set --state-url or OCN_STATE_URL (postgresql://...)")
        return 2
    try:
        found, applied = upgrade_database(
            settings.state_url, settings.state_timeout, apply=command == "upgrade"
        )
    except SchemaTooNew as exc:
        _fail(str(exc))
        return 1
    except (OSError, TimeoutError) as exc:
        _fail(f"cannot reach the state database: {exc}")
        return 1
    descriptions = dict((v, d) for v, d, _ in MIGRATIONS)
    for version in applied:
        print(f"applied migration {version}: {descriptions[version]}")
    now = applied[-1] if applied else found
    pending = [v for v, _, _ in MIGRATIONS if v > now]
    print(f"schema version {now} (this node: {LATEST}); pending: {pending or 'none'}")
    return 0 if command == "upgrade" or not pending else 3


def _run_core(settings: Settings, args: argparse.Namespace) -> int:
    from ocn_core import open_node
    from ocn_core.datadir_lock import lock_data_dir
    from ocn_grpc.server import start_server
    from ocpi_gateway.server import core_metrics, run_housekeeping

    configure_logging(settings.log_format, settings.log_level)
    lock_data_dir(settings.data_dir)

    async def serve() -> None:
        engine = open_node(settings)
        interceptors, stop_metrics = await core_metrics(settings, engine)
        server = await start_server(
            engine, args.listen, reflection_on=not args.no_reflection, interceptors=interceptors
        )
        housekeeping = asyncio.ensure_future(run_housekeeping(engine))
        chain_sync = engine.start_registry_sync()
        hub_jobs = asyncio.ensure_future(engine.run_jobs())  # still-alive, planned parties
        try:
            await _until_stopped()
        finally:
            # SIGTERM / SIGINT: no new calls, in-flight ones answered within shutdown_grace
            await server.stop(settings.shutdown_grace)
            hub_jobs.cancel()
            housekeeping.cancel()
            if chain_sync is not None:
                chain_sync.cancel()
            await stop_metrics()
            await engine.close()
            log.info("core_stopped", pid=os.getpid())

    try:
        import uvloop

        uvloop.install()  # measured: ~15-20% less server CPU per Route than asyncio's loop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        pass
    asyncio.run(serve())
    return 0


async def _until_stopped() -> None:
    """Until SIGTERM or SIGINT arrives (the gRPC server is stopped after, with its grace)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("core_stopping", pid=os.getpid())


def _admin(settings: Settings, origins: dict[str, str], args: argparse.Namespace) -> int:
    """One admin call on the data dir; never lists or changes the node itself."""
    from ocn_core import open_node
    from ocn_core.hub.admin_calls import run_admin_call_async

    configure_logging(settings.log_format, "error")  # stderr carries only the call's error
    engine = open_node(settings, list_self=False)
    if "public_url" not in origins:  # answer with the URL the node is listed under
        listed = engine.registry_node(engine.node_address)
        if listed is not None and listed.url:
            settings.public_url = listed.url.rstrip("/")
    auth = f"Token {settings.api_key}"
    cmd = args.admin_command
    call: tuple[str, dict[str, Any]]
    if cmd == "token":
        roles = []
        for spec in args.roles:
            cc, _, rest = spec.partition(":")
            pid, _, role = rest.partition(":")
            roles.append({"country_code": cc, "party_id": pid, "role": role})
        call = ("create_registration_token", {"roles": roles, "ttl": _number(args.ttl)})
    elif cmd == "platforms":
        call = ("platforms", {})
    elif cmd in ("platform", "delete-platform"):
        call = (cmd.replace("-", "_"), {"platform_id": args.platform_id})
    elif cmd == "connect":
        call = ("connect", {"versions_url": args.versions_url, "token_a": args.token_a})
        call[1]["version"] = args.ocpi_version
    elif cmd == "rotate":
        call = ("rotate_credentials", {"platform_id": args.platform_id})
    elif cmd == "party":
        party = {"country_code": args.country_code, "party_id": args.party_id}
        call = ("set_party", {**party, "roles": args.roles, "address": args.address})
    else:
        call = ("connection_status", {"country_code": args.country_code, "party_id": args.party_id})
    try:
        result = asyncio.run(_closing(engine, run_admin_call_async(engine, auth, *call)))
    except OcnError as exc:
        print(json.dumps({"error": exc.reason, "message": exc.message}), file=sys.stderr)
        return 1
    finally:
        engine.ctx.store.close()
    shown = human_times(result if result is not None else {"ok": True})
    print(json.dumps(shown, indent=2))
    return 0


async def _closing(engine: Any, call: Any) -> Any:
    """Await an admin call, then close the engine's outbound connections."""
    try:
        return await call
    finally:
        await engine.close()


def _number(text: str | None) -> float | str | None:
    """``--ttl`` as a number when it reads as one; the admin call refuses anything else."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


if __name__ == "__main__":
    sys.exit(main())
