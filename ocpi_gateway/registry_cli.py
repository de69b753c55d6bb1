"""``ocn-node registry ...``: inspect the registry cache; write it in local mode. JSON on stdout."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from typing import Any

import orjson

from ocn_core.config import Settings
from ocn_core.errors import OcnError
from ocn_core.registry.cache import RegistryCache
from ocn_core.registry.local import LocalRegistry
from ocn_core.registry.types import MODULES, ROLES
from ocn_core.store import Store
from ocn_core.timefmt import human_times


def add_registry_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``registry`` and its subcommands to an ``ocn-node`` style parser."""
    registry = subparsers.add_parser(
        "registry", help="show, list and (local mode) edit the registry"
    )
    sub = registry.add_subparsers(dest="registry_command", required=True)

    def cmd(name: str, help: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help)
        p.add_argument(
            "--data-dir",
            default=argparse.SUPPRESS,  # may also come before the subcommand
            help="node data dir (env OCN_DATA_DIR, default ./ocn-data)",
        )
        return p

    p = cmd("show-party", "one party by OCPI id (case-insensitive)")
    p.add_argument("country_code")
    p.add_argument("party_id")
    cmd("show-party-address", "one party by its signing address").add_argument("address")
    cmd("show-node", "one node by operator address").add_argument("address")
    cmd("list-parties", "every listed party")
    cmd("list-nodes", "every node")
    cmd("list-services", "every Permissions service")
    p = cmd("agreements", "services a party agreed to")
    p.add_argument("country_code")
    p.add_argument("party_id")
    p.add_argument("--include-revoked", action="store_true")
    cmd("status", "source, sync cursor, head, lag, last error, staleness")

    p = cmd("set-node", "(local) create or update a node")
    p.add_argument("operator")
    p.add_argument("url")
    cmd("delete-node", "(local) remove a node").add_argument("operator")
    p = cmd("set-party", "(local) create or update a party listing")
    p.add_argument("country_code")
    p.add_argument("party_id")
    p.add_argument("--roles", nargs="+", required=True, choices=ROLES)
    p.add_argument("--operator", required=True, help="the node operator's address")
    p.add_argument("--address", default="", help="the party's signing address")
    p.add_argument("--modules-sender", nargs="*", default=[], choices=MODULES)
    p.add_argument("--modules-receiver", nargs="*", default=[], choices=MODULES)
    p = cmd("delete-party", "(local) remove a party listing")
    p.add_argument("country_code")
    p.add_argument("party_id")
    p = cmd("set-service", "(local) register a provider's service")
    p.add_argument("provider")
    p.add_argument("name")
    p.add_argument("url")
    p.add_argument("--permissions", nargs="+", type=int, required=True)
    cmd("delete-service", "(local) remove a service").add_argument("provider")
    for name, help in (("set-agreement", "agree"), ("revoke-agreement", "revoke an agreement")):
        p = cmd(name, f"(local) {help}: user address, provider address")
        p.add_argument("user")
        p.add_argument("provider")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _out(value: Any) -> None:
    shown = human_times(_plain(value))
    sys.stdout.buffer.write(orjson.dumps(shown, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()


def _found(value: Any) -> int:
    _out(value)
    return 0 if value is not None else 1


def _commands() -> dict[str, Callable[[RegistryCache, argparse.Namespace], int]]:
    def local(a: argparse.Namespace, c: RegistryCache) -> LocalRegistry:
        return LocalRegistry(c)

    def done(write: Callable[[], object]) -> int:
        """Run a local write; ``False`` from it (nothing to delete) exits 1."""
        changed = write() is not False
        _out({"ok": changed})
        return 0 if changed else 1

    return {
        "show-party": lambda c, a: _found(c.party(a.country_code, a.party_id)),
        "show-party-address": lambda c, a: _found(c.party_by_address(a.address)),
        "show-node": lambda c, a: _found(c.node(a.address)),
        "list-parties": lambda c, a: _found(list(c.parties())),
        "list-nodes": lambda c, a: _found(list(c.nodes())),
        "list-services": lambda c, a: _found(c.services()),
        "agreements": lambda c, a: _found(
            c.agreements(a.country_code, a.party_id, include_revoked=a.include_revoked)
        ),
        "status": lambda c, a: _found({**dataclasses.asdict(c.status()), "entries": c.count()}),
        "set-node": lambda c, a: done(lambda: local(a, c).set_node(a.operator, a.url)),
        "delete-node": lambda c, a: done(lambda: local(a, c).delete_node(a.operator)),
        "set-party": lambda c, a: done(
            lambda: local(a, c).set_party(
                a.country_code,
                a.party_id,
                a.roles,
                a.operator,
                address=a.address,
                modules_sender=a.modules_sender,
                modules_receiver=a.modules_receiver,
            )
        ),
        "delete-party": lambda c, a: done(
            lambda: local(a, c).delete_party(a.country_code, a.party_id)
        ),
        "set-service": lambda c, a: done(
            lambda: local(a, c).set_service(a.provider, a.name, a.url, a.permissions)
        ),
        "delete-service": lambda c, a: done(lambda: local(a, c).delete_service(a.provider)),
        "set-agreement": lambda c, a: done(lambda: local(a, c).set_agreement(a.user, a.provider)),
        "revoke-agreement": lambda c, a: done(
            lambda: local(a, c).revoke_agreement(a.user, a.provider)
        ),
    }


def run_registry_command(args: argparse.Namespace, settings: Settings | None = None) -> int:
    """Run a parsed ``registry`` subcommand: 0 done, 1 not found / nothing changed, 2 refused."""
    if settings is None:
        settings = Settings.from_env(data_dir=getattr(args, "data_dir", None))
    store = Store(settings.data_dir / "lmdb", map_size=settings.map_size)
    try:
        return _commands()[args.registry_command](RegistryCache(store), args)
    except OcnError as exc:
        _out({"error": exc.reason, "message": exc.message})
        return 2
    finally:
        store.close()
