"""The broker: how several server processes, on one machine or many, serve the same feeds through Redis.

Without ``--broker`` none of this runs: one process samples every feed and delivers its ticks itself. With it, each
process is a node of a cluster (`broker.node.RedisBroker`): one process in the whole cluster leads each feed and
samples it, fenced by a lease in Redis; its ticks are encoded once, appended to the feed's Redis Stream and published
in one atomic step (`broker.scripts`); every node receives them on one subscription per feed and delivers those
bytes to its own clients through the hub's seam (`feeds.hub.Hub.deliver`), keeping its history in step with the
stream. This package imports the core (`feeds`), never `handlers` or Tornado.
"""
