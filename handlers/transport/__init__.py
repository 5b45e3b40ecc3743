"""Bytes on the wire, on Tornado's streams: strict frame reading (`framing`), the per-connection writer that sends
pre-built frames (`writer`), one keepalive timer for every connection (`keepalive`), the registry of open
connections (`connections`), the HTTP server that counts sockets before any request is read (`httpserver`) and
closes those that hold no request, in the order `idle` keeps, and the gate every request passes before the
application (`gate`).

A compressor of the frames the hub built once (permessage-deflate) belongs here, beside the writer.
"""
