"""Node state in LMDB: platforms, roles, endpoints, tokens and proxied resources."""

from ocn_core.state.platforms import PlatformStore, RoleConflict, new_role
from ocn_core.state.proxy import ProxyStore
from ocn_core.state.records import Platform, RegistrationGrant, RoleRecord

__all__ = [
    "Platform",
    "PlatformStore",
    "ProxyStore",
    "RegistrationGrant",
    "RoleConflict",
    "RoleRecord",
    "new_role",
]
