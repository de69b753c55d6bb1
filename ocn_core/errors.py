"""The one exception hierarchy of the engine.

Every class carries a unique ``reason`` (stable, machine-readable), the OCPI status code and the
HTTP status a gateway should answer with. Edges (gateway, gRPC) translate by ``reason`` and never
by message text. Classes register themselves; a duplicate ``reason`` is a programming error.
"""

from __future__ import annotations

from typing import ClassVar

_BY_REASON: dict[str, type[OcnError]] = {}


class OcnError(Exception):
    """Base: a failure the node detects itself and reports as an OCPI envelope."""

    reason: ClassVar[str] = "internal"
    ocpi_status: ClassVar[int] = 3000
    http_status: ClassVar[int] = 500

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "reason" not in cls.__dict__:
            raise TypeError(f"{cls.__name__} must define its own 'reason'")
        if cls.reason in _BY_REASON:
            raise TypeError(f"duplicate error reason {cls.reason!r}")
        _BY_REASON[cls.reason] = cls

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_BY_REASON[OcnError.reason] = OcnError


def error_class(reason: str) -> type[OcnError]:
    """The class registered for ``reason`` (the base class for an unknown one)."""
    return _BY_REASON.get(reason, OcnError)


# --- client errors (2xxx) -------------------------------------------------------------------


class ClientError(OcnError):
    reason = "client_error"
    ocpi_status = 2000
    http_status = 400


class InvalidRequest(ClientError):
    """Missing or malformed header, parameter or body (HTTP 400 / OCPI 2001)."""

    reason = "invalid_request"
    ocpi_status = 2001


class MalformedJson(InvalidRequest):
    reason = "malformed_json"


class UnknownToken(ClientError):
    """Missing or unknown credentials token (HTTP 401 per OCPI 2.2 §1.1)."""

    reason = "unknown_token"
    ocpi_status = 2001
    http_status = 401


class WrongRoleHeaders(InvalidRequest):
    """The OCPI-from-* party is not one of the calling platform's roles."""

    reason = "wrong_from_role"


class NotSupported(InvalidRequest):
    """The receiver publishes no endpoint for this module and interface."""

    reason = "receiver_module_unsupported"


class NotFound(ClientError):
    reason = "not_found"
    ocpi_status = 2003
    http_status = 404


class NotListed(NotFound):
    """No registry listing for the party or node asked about."""

    reason = "not_listed"


class MethodNotAllowed(ClientError):
    """Credentials misuse: POST when registered, PUT/DELETE when not (HTTP 405)."""

    reason = "method_not_allowed"
    ocpi_status = 2000
    http_status = 405


class PayloadTooLarge(ClientError):
    reason = "payload_too_large"
    ocpi_status = 2001
    http_status = 413


class Forbidden(ClientError):
    """Blocked by the receiver's rules or not permitted (OCPI 2000)."""

    reason = "forbidden"


class RegistrationRejected(InvalidRequest):
    """A credentials role is not listed with this node or is already connected."""

    reason = "registration_rejected"


class SignatureError(InvalidRequest):
    """A request OCN-Signature is missing, malformed or does not verify."""

    reason = "signature_invalid"


class RateLimited(ClientError):
    """Too many requests from one party (HTTP 429 with ``Retry-After``)."""

    reason = "rate_limited"
    http_status = 429

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RulesConflict(ClientError):
    """An OcnRules change the caller's current rules do not allow (HTTP 400 / OCPI 2000)."""

    reason = "rules_conflict"


class DuplicateRule(InvalidRequest):
    """The party is already on the caller's OcnRules list."""

    reason = "rules_duplicate"


class OpenRoutingRefused(InvalidRequest):
    """A request without TO headers whose receiver the hub cannot or may not choose."""

    reason = "open_routing_refused"


# --- server errors (3xxx) -------------------------------------------------------------------


class ServerError(OcnError):
    reason = "server_error"
    ocpi_status = 3000
    http_status = 200


class PeerApiError(ServerError):
    """Unable to use the client's API (registration fetches failed): OCPI 3001."""

    reason = "peer_api_unusable"
    ocpi_status = 3001


class UnsupportedVersion(ServerError):
    reason = "unsupported_version"
    ocpi_status = 3002


class MissingEndpoints(ServerError):
    reason = "missing_endpoints"
    ocpi_status = 3003


class CoreUnavailable(ServerError):
    """A gateway cannot reach its core (``--core grpc://``): HTTP 503 / OCPI 3000."""

    reason = "core_unavailable"
    http_status = 503


class StateUnavailable(ServerError):
    """The shared state database (PostgreSQL) cannot be reached for a write: HTTP 503 / 3000."""

    reason = "state_unavailable"
    http_status = 503


class CoreTimeout(ServerError):
    """The core did not answer the gateway within its deadline: HTTP 504 / OCPI 3000."""

    reason = "core_timeout"
    http_status = 504


class BadResponse(ServerError):
    """The receiver's answer could not be used (not JSON, bad response signature)."""

    reason = "bad_response"


# --- hub errors (4xxx) ----------------------------------------------------------------------


class HubError(OcnError):
    reason = "hub_error"
    ocpi_status = 4000
    http_status = 200


class UnknownReceiver(HubError):
    reason = "unknown_receiver"
    ocpi_status = 4001


class ReceiverTimeout(HubError):
    reason = "receiver_timeout"
    ocpi_status = 4002


class ReceiverUnreachable(HubError):
    reason = "receiver_unreachable"
    ocpi_status = 4003


class UrlRefused(ReceiverUnreachable):
    """An outbound URL outside the node's URL policy (the node does not connect there)."""

    reason = "url_refused"


class NodeSignatureInvalid(HubError):
    """``/ocn/message``: the node signature does not recover to the sender's registry operator."""

    reason = "node_signature_invalid"
    ocpi_status = 4003


class ReplayedMessage(InvalidRequest):
    """``/ocn/message``: the sending node already delivered this request id."""

    reason = "replayed_message"


class AdminError(OcnError):
    """Admin API misuse: bad key, bad input, missing object (plain JSON, not OCPI)."""

    reason = "admin_error"
    ocpi_status = 2000
    http_status = 400


class AdminUnauthorized(AdminError):
    reason = "admin_unauthorized"
    http_status = 401


class AdminNotFound(AdminError):
    reason = "admin_not_found"
    http_status = 404


class RefusedInput(InvalidRequest):
    """A routed request no edge may pass on: control characters in a header-bound field, a
    path that climbs or hides a separator, an unknown enum value, a malformed JSON body."""

    reason = "refused_input"

    def __init__(self, message: str, request: object = None) -> None:
        super().__init__(message)
        self.request = request  # the request with the unsafe fields blanked (for the answer)
