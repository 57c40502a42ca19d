#!/usr/bin/env python3
"""Count PostgreSQL round trips per HTTP request *on the wire*.

Why: the application code tells you which queries it means to run, not how
often it waits for the database. Drivers add traffic of their own: e.g. sqlx's
pool pings a connection before handing it out unless `test_before_acquire(false)`
is set, and statement caching changes how many Parse messages are sent. This
TCP proxy sits between the app server (`local-api`) and PostgreSQL, parses the
frontend (client -> server) stream of protocol v3 and counts what is really
sent, so `make bench` can report it.

Counted since the last `reset`: messages per type letter ('Q', 'P', 'B', 'E',
'S', 'X', 'p', ...), `round_trips` = #Sync + #Query (each is a point where the
client waits for ReadyForQuery), the SQL of 'Q'/'P' messages (first 120
characters) and connections opened. SSLRequest/GSSENCRequest are answered with
b'N' by the proxy itself, so the traffic stays plaintext and parsable.

  wirecount.py --listen 127.0.0.1:PORT --upstream 127.0.0.1:5432 --control 127.0.0.1:CPORT
  wirecount.py --ask 127.0.0.1:CPORT read|reset    # prints the control port's JSON answer
The control port takes one line, `read` or `reset`, answers one JSON line, closes.
"""
import argparse
import asyncio
import json
import signal
import socket
import struct
import sys
from collections import Counter

SSL_REQUEST, GSSENC_REQUEST, CANCEL_REQUEST = 80877103, 80877104, 80877102
SQL_KEY_LEN = 120


class Stats:
    def __init__(self):
        self.reset()

    def reset(self):
        self.messages, self.statements, self.connections = Counter(), Counter(), 0

    def snapshot(self):
        m = self.messages
        return {"round_trips": m["S"] + m["Q"], "messages": dict(m),
                "statements": dict(self.statements), "connections": self.connections}


STATS = Stats()


def sql_key(payload, skip_name):
    """Query text of a 'Q' payload, or of a 'P' payload after the statement name."""
    start = payload.find(0) + 1 if skip_name else 0
    end = payload.find(0, start)
    return payload[start:end if end >= 0 else None].decode("utf-8", "replace")[:SQL_KEY_LEN]


class FrontendParser:
    """Incremental parser of the typed frontend messages (after the StartupMessage)."""

    def __init__(self):
        self.buf = bytearray()
        self.skip = 0  # payload bytes of the current (uninteresting) message still to skip

    def feed(self, data):
        buf = self.buf
        buf += data
        pos, n = 0, len(buf)
        while True:
            if self.skip:
                step = min(self.skip, n - pos)
                self.skip -= step
                pos += step
                if self.skip:
                    break
            if n - pos < 5:
                break
            mtype = chr(buf[pos])
            length = max(struct.unpack_from("!i", buf, pos + 1)[0], 4)
            if mtype in "QP":
                if n - pos < 1 + length:
                    break  # wait for the whole message: we need its SQL text
                payload = bytes(buf[pos + 5:pos + 1 + length])
                STATS.statements[sql_key(payload, mtype == "P")] += 1
                pos += 1 + length
            else:
                pos += 5
                self.skip = length - 4
            STATS.messages[mtype] += 1
        del buf[:pos]


class Peer(asyncio.Protocol):
    """One side of a proxied connection; plain Protocols keep the added latency low."""
    other = transport = None

    def peer_transport(self):
        return self.other.transport if self.other is not None else None

    def connection_made(self, transport):
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        self.other.transport.write(data)

    def connection_lost(self, exc):
        if t := self.peer_transport():
            t.close()

    def pause_writing(self):  # backpressure: stop reading what we cannot write out
        if t := self.peer_transport():
            t.pause_reading()

    def resume_writing(self):
        if t := self.peer_transport():
            t.resume_reading()


class Client(Peer):
    """The app's side: refuses SSL/GSS, then forwards its bytes and counts messages."""

    def __init__(self, upstream):
        self.upstream, self.startup, self.pending, self.parser = upstream, bytearray(), [], None

    def connection_made(self, transport):
        super().connection_made(transport)
        STATS.connections += 1
        asyncio.get_running_loop().create_task(self.connect())

    async def connect(self):
        try:
            _, self.other = await asyncio.get_running_loop().create_connection(
                Peer, *self.upstream)
        except OSError as exc:
            print(f"wirecount: upstream connect failed: {exc}", file=sys.stderr)
            return self.transport.close()
        self.other.other = self
        if self.transport.is_closing():
            self.other.transport.close()
        for data in self.pending:
            self.other.transport.write(data)
        self.pending = None

    def forward(self, data):
        if self.pending is not None:
            self.pending.append(data)  # upstream connection not open yet
        else:
            self.other.transport.write(data)

    def data_received(self, data):
        if self.startup is not None:
            return self.startup_received(data)
        self.forward(data)  # forward first, count afterwards
        if self.parser is not None:
            try:
                self.parser.feed(data)
            except Exception as exc:  # never break forwarding because of the counter
                print(f"wirecount: parser disabled: {exc!r}", file=sys.stderr)
                self.parser = None

    def startup_received(self, data):
        buf = self.startup
        buf += data
        while len(buf) >= 8:  # untyped: int32 length (incl. itself), int32 code, ...
            length, code = struct.unpack_from("!ii", buf, 0)
            if len(buf) < length:
                return
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                del buf[:length]
                self.transport.write(b"N")  # refuse: traffic stays plaintext
                continue
            self.startup = None
            self.forward(bytes(buf[:length]))  # StartupMessage or CancelRequest
            if code != CANCEL_REQUEST:
                self.parser = FrontendParser()
            if len(buf) > length:
                self.data_received(bytes(buf[length:]))
            return


async def handle_control(reader, writer):
    try:
        cmd = (await reader.readline()).decode().strip()
        if cmd == "read":
            answer = STATS.snapshot()
        elif cmd == "reset":
            STATS.reset()
            answer = {"ok": True}
        else:
            answer = {"error": f"unknown command {cmd!r}; use read or reset"}
        writer.write((json.dumps(answer) + "\n").encode())
        await writer.drain()
    finally:
        writer.close()


def hostport(s):
    host, _, port = s.rpartition(":")
    return host or "127.0.0.1", int(port)


async def serve(args):
    loop, upstream, stop = asyncio.get_running_loop(), hostport(args.upstream), asyncio.Event()
    proxy = await loop.create_server(lambda: Client(upstream), *hostport(args.listen))
    control = await asyncio.start_server(handle_control, *hostport(args.control))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"wirecount: listening on {args.listen} -> upstream {args.upstream}, "
          f"control on {args.control}", file=sys.stderr, flush=True)
    await stop.wait()
    proxy.close()
    control.close()


def ask(addr, cmd):
    with socket.create_connection(hostport(addr), timeout=10) as sock:
        sock.sendall(cmd.encode() + b"\n")
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    sys.stdout.write(b"".join(chunks).decode())
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", help="HOST:PORT the proxy accepts PostgreSQL clients on")
    ap.add_argument("--upstream", default="127.0.0.1:5432", help="HOST:PORT of PostgreSQL")
    ap.add_argument("--control", help="HOST:PORT of the read/reset control port")
    ap.add_argument("--ask", nargs=2, metavar=("CONTROL", "read|reset"),
                    help="client mode: send read or reset to a control port, print the answer")
    args = ap.parse_args()
    if args.ask:
        if args.ask[1] not in ("read", "reset"):
            ap.error("--ask takes read or reset")
        return ask(*args.ask)
    if not (args.listen and args.control):
        ap.error("--listen and --control are required (or use --ask)")
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
