"""handlers.transport.idle: which socket a full server closes first, and which have sent nothing for too long."""

from __future__ import annotations

from handlers.transport.idle import IdleSockets


def test_a_full_server_closes_the_oldest_socket_without_a_request_first_then_the_longest_kept_alive() -> None:
    idle: IdleSockets[str] = IdleSockets()
    for when, sock in enumerate(("kept-a", "kept-b", "new-a", "new-b", "busy")):
        idle.accepted(sock, float(when))
        idle.waiting(sock)  # its first request: it stays new
    for sock in ("kept-b", "kept-a", "busy"):
        idle.busy(sock)  # a request arrived
    idle.waiting("kept-b")  # answered, and kept alive for the next: in the order they began to wait
    idle.waiting("kept-a")
    assert len(idle) == 4
    order = []
    while (sock := idle.first_to_close()) is not None:
        order.append(sock)
        idle.forget(sock)
    assert order == ["new-a", "new-b", "kept-b", "kept-a"]  # "busy" holds a request: never closed to make room


def test_sockets_not_heard_from_come_out_once_each_as_their_time_is_up() -> None:
    idle: IdleSockets[str] = IdleSockets()
    for when, sock in ((10.0, "a"), (11.0, "b"), (12.0, "c"), (13.0, "d")):
        idle.accepted(sock, when)
    idle.busy("b")  # its request arrived: not silent
    assert idle.next_unheard() == 10.0
    assert list(idle.unheard_since(12.0)) == ["a", "c"]
    assert list(idle.unheard_since(12.0)) == []  # looked at once: one that had sent a part of a request stays
    assert idle.next_unheard() == 13.0
    assert idle.first_to_close() == "a"  # still waiting for its request, and the first to close to make room
    idle.forget("d")
    assert idle.next_unheard() is None
