"""Python client of Mirage, the synthetic-data platform.

For now the package ships the generated protobuf and gRPC stubs of the public API
(`mirage._proto.mirage.v1`, made from `proto/mirage/v1` by `scripts/generate_stubs.py`);
rows travel over Arrow Flight with `pyarrow.flight`. Every call carries an API key in the
`x-api-key` header (or `authorization: Bearer <key>`).
"""

__version__ = "0.1.0"

#: The metadata header that carries an API key on gRPC and Flight calls.
API_KEY_HEADER = "x-api-key"
