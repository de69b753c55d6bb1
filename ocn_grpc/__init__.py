"""ocn_grpc: the ocn_core engine over gRPC (server and typed client)."""
