"""The WebSocket protocol's meaning, apart from any transport (docs/protocol.md): the error and close codes
(`codes`), the parsing of client messages (`messages`) and one connection's session (`session`), in the manner of
websockets' sans-I/O core. Nothing here imports Tornado; `handlers.endpoints.socket` carries its bytes.
"""
