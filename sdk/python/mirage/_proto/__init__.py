"""Generated protobuf and gRPC stubs of Mirage's public API (private: use `mirage`)."""
