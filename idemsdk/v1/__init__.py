"""The stored record's schema, version 1: ``record_pb2`` is generated from ``proto/idemsdk/v1``.

Do not edit ``record_pb2.py`` or ``record_pb2.pyi``; regenerate them (docs/serialization.md).
"""
