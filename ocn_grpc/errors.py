"""Lossless error transport: an OcnError travels as google.rpc.Status with an ErrorInfo detail.

The gRPC status code comes from an explicit table keyed by the error's ``reason`` (an error
class without its own row uses its nearest ancestor's). The ErrorInfo detail carries the
``reason``, the OCPI status code and the HTTP status; the client rebuilds the same class from
the reason, so no caller ever matches on message text.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from ocn_core.errors import OcnError, error_class

DOMAIN = "ocn.v1"

# reason -> google.rpc.Code
CODES: dict[str, int] = {
    "internal": code_pb2.INTERNAL,
    # client errors (OCPI 2xxx)
    "client_error": code_pb2.INVALID_ARGUMENT,
    "invalid_request": code_pb2.INVALID_ARGUMENT,
    "malformed_json": code_pb2.INVALID_ARGUMENT,
    "unknown_token": code_pb2.UNAUTHENTICATED,
    "wrong_from_role": code_pb2.PERMISSION_DENIED,
    "receiver_module_unsupported": code_pb2.FAILED_PRECONDITION,
    "not_found": code_pb2.NOT_FOUND,
    "method_not_allowed": code_pb2.FAILED_PRECONDITION,
    "payload_too_large": code_pb2.RESOURCE_EXHAUSTED,
    "forbidden": code_pb2.PERMISSION_DENIED,
    "registration_rejected": code_pb2.FAILED_PRECONDITION,
    "signature_invalid": code_pb2.INVALID_ARGUMENT,
    "signature_too_large": code_pb2.RESOURCE_EXHAUSTED,
    "rate_limited": code_pb2.RESOURCE_EXHAUSTED,
    "rules_conflict": code_pb2.FAILED_PRECONDITION,
    "rules_duplicate": code_pb2.ALREADY_EXISTS,
    "open_routing_refused": code_pb2.INVALID_ARGUMENT,
    # server errors (OCPI 3xxx)
    "server_error": code_pb2.INTERNAL,
    "peer_api_unusable": code_pb2.FAILED_PRECONDITION,
    "unsupported_version": code_pb2.FAILED_PRECONDITION,
    "missing_endpoints": code_pb2.FAILED_PRECONDITION,
    "bad_response": code_pb2.UNAVAILABLE,
    "core_unavailable": code_pb2.UNAVAILABLE,
    "core_timeout": code_pb2.DEADLINE_EXCEEDED,
    # hub errors (OCPI 4xxx)
    "hub_error": code_pb2.INTERNAL,
    "unknown_receiver": code_pb2.NOT_FOUND,
    "receiver_timeout": code_pb2.DEADLINE_EXCEEDED,
    "receiver_unreachable": code_pb2.UNAVAILABLE,
    # admin API
    "admin_error": code_pb2.INVALID_ARGUMENT,
    "admin_unauthorized": code_pb2.UNAUTHENTICATED,
    "admin_not_found": code_pb2.NOT_FOUND,
}


def grpc_code(exc: OcnError) -> int:
    """The table's code for ``exc``'s reason, else for the nearest ancestor's reason."""
    for cls in type(exc).__mro__:
        code = CODES.get(getattr(cls, "reason", ""))
        if code is not None:
            return int(code)
    return int(code_pb2.INTERNAL)


def to_status(exc: OcnError) -> grpc.Status:
    info = error_details_pb2.ErrorInfo(
        reason=exc.reason,
        domain=DOMAIN,
        metadata={"ocpi_status": str(exc.ocpi_status), "http_status": str(exc.http_status)},
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    status = status_pb2.Status(code=grpc_code(exc), message=exc.message, details=[detail])
    converted: grpc.Status = rpc_status.to_status(status)
    return converted


def from_rpc_error(err: grpc.aio.AioRpcError) -> Exception:
    """The OcnError the server raised, or the gRPC error itself when it carries none."""
    status = rpc_status.from_call(err)
    if status is not None:
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Is(info.DESCRIPTOR) and detail.Unpack(info) and info.domain == DOMAIN:
                return error_class(info.reason)(str(status.message))
    return err
