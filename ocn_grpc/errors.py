"""Lossless error transport: an OcnError travels as google.rpc.Status with an ErrorInfo detail.

The detail's ``reason`` is the ocn_core error reason; the client rebuilds the same class from it,
so no caller ever matches on message text.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from ocn_core.errors import AdminNotFound, AdminUnauthorized, OcnError, error_class

DOMAIN = "ocn.v1"


def grpc_code(exc: OcnError) -> int:
    if isinstance(exc, AdminUnauthorized):
        return int(code_pb2.UNAUTHENTICATED)
    if isinstance(exc, AdminNotFound):
        return int(code_pb2.NOT_FOUND)
    if exc.http_status >= 500:
        return int(code_pb2.INTERNAL)
    return int(code_pb2.INVALID_ARGUMENT)


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
