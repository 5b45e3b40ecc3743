"""The Tornado handlers and the route table (`app`): the page's files (`static`), ``/api/feeds`` and ``/healthz``
(`api`), ``/ws`` (`socket`), and what they all share (`base`). Thin: each hands its work to the layers below.

A metrics exporter's handler (``/metrics`` on a listener of its own) belongs here.
"""
