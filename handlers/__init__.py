"""Everything that faces the network, in layers a module may only import downwards from (tests/test_layers.py):

- `handlers.security`: tokens and roles (`auth`), the Host and Origin rules (`guard`), and the log's budgets
  and redaction (`accesslog`). No Tornado.
- `handlers.settings`: every setting of the server and its flag.
- `handlers.protocol`: what a connection's messages mean, apart from any transport: the codes (`codes`), the
  parsing of client messages (`messages`) and one client's session (`session`). No Tornado.
- `handlers.transport`: moving bytes on Tornado's streams: strict frame reading (`framing`), the per-connection
  writer (`writer`), the keepalive, the registry of connections and the HTTP server that counts sockets.
- `handlers.endpoints`: the Tornado handlers themselves and the route table (`app`): the page, `/api/feeds`,
  `/healthz` and `/ws`.

Under all of them is the core, `feeds`; `server.py` wires the two together.
"""
