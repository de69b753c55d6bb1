"""The one import point for generated protobuf code: ``from ocn_grpc.pb import routing_pb2``."""

from ocn_grpc._generated.ocn.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    routing_pb2,
    routing_pb2_grpc,
    signatures_pb2,
    signatures_pb2_grpc,
)

__all__ = [
    "admin_pb2",
    "admin_pb2_grpc",
    "registry_pb2",
    "registry_pb2_grpc",
    "routing_pb2",
    "routing_pb2_grpc",
    "signatures_pb2",
    "signatures_pb2_grpc",
]
