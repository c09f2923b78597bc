"""Minimal HTTP/1.1 and h2c (prior knowledge) clients over one socket, for tests that need to see the connection:
keep-alive reuse, several streams on one HTTP/2 connection, early answers to oversized bodies.
"""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    raw_head: bytes = b""
    interim: list[int] = field(default_factory=list)  # 1xx statuses seen before the final answer

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class Http1Connection:
    """One HTTP/1.1 connection; requests are sent and answered one after another on the same socket."""

    def __init__(self, host: str, port: int, timeout: float = 15.0):
        self.host, self.port = host, port
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.local_port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_head(self, method: str, path: str, headers: dict[str, str]):
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
                chunked: bool = False) -> Response:
        headers = dict(headers or {})
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
        elif method != "GET" or body:
            headers.setdefault("Content-Length", str(len(body)))
        self.send_head(method, path, headers)
        if chunked:
            for i in range(0, len(body), 4096):
                part = body[i:i + 4096]
                self.sock.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.sock.sendall(b"0\r\n\r\n")
        elif body:
            self.sock.sendall(body)
        return self.read_response()

    def _fill(self, deadline: float) -> bool:
        """Reads more bytes; False at EOF."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no complete HTTP response in time")
        self.sock.settimeout(remaining)
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buffer += data
        return True

    def read_response(self, timeout: float = 15.0, allow_interim: bool = True) -> Response:
        deadline = time.monotonic() + timeout
        interim = []
        while True:
            while b"\r\n\r\n" not in self.buffer:
                if not self._fill(deadline):
                    raise ConnectionError(f"connection closed before a response head (got {self.buffer[:200]!r})")
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
            if 100 <= status < 200:
                interim.append(status)
                if allow_interim:
                    continue
                return Response(status, headers, b"", head, interim)
            break
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                while b"\r\n" not in self.buffer:
                    if not self._fill(deadline):
                        raise ConnectionError("connection closed inside a chunked body")
                size_line, rest = self.buffer.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                while len(rest) < size + 2:
                    if not self._fill(deadline):
                        raise ConnectionError("connection closed inside a chunk")
                    rest = self.buffer.split(b"\r\n", 1)[1]
                body += rest[:size]
                self.buffer = rest[size + 2:]
                if size == 0:
                    break
        else:
            length = int(headers.get("content-length", "0"))
            while len(self.buffer) < length:
                if not self._fill(deadline):
                    raise ConnectionError("connection closed inside a body")
            body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Response(status, headers, body, head, interim)

    def peer_closed(self, timeout: float = 2.0) -> bool:
        """True when the server closes the connection within `timeout` (reads and drops anything else)."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                if not self.sock.recv(65536):
                    return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        return False


class H2Connection:
    """One cleartext HTTP/2 connection with prior knowledge (no Upgrade): the client preface is sent at once."""

    def __init__(self, host: str, port: int, timeout: float = 15.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        # Room for large answers without window updates.
        self.conn.increment_flow_control_window(1 << 24)
        self.sock.sendall(self.conn.data_to_send())
        self.goaway = None

    def close(self):
        try:
            self.conn.close_connection()
            self.sock.sendall(self.conn.data_to_send())
        except Exception:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def start_request(self, method: str, path: str, body: bytes, headers: dict[str, str] | None = None) -> int:
        stream_id = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":path", path), (":scheme", "http"), (":authority", f"{self.host}:{self.port}")]
        hdrs += [(k.lower(), v) for k, v in (headers or {}).items()]
        hdrs.append(("content-length", str(len(body))))
        self.conn.send_headers(stream_id, hdrs, end_stream=not body)
        self._send_body(stream_id, body)
        return stream_id

    def _send_body(self, stream_id: int, body: bytes, end_stream: bool = True):
        deadline = time.monotonic() + self.timeout
        offset = 0
        while offset < len(body):
            window = min(self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size)
            if window <= 0:
                self.sock.sendall(self.conn.data_to_send())
                self._pump(deadline, lambda: self.conn.local_flow_control_window(stream_id) > 0)
                continue
            chunk = body[offset:offset + window]
            offset += len(chunk)
            self.conn.send_data(stream_id, chunk, end_stream=end_stream and offset >= len(body))
        self.sock.sendall(self.conn.data_to_send())

    def start_upload(self, method: str, path: str, headers: dict[str, str], first_part: bytes) -> int:
        """Opens a stream and sends `first_part` of its body without ending it (see ``finish_upload``)."""
        self._streams = {}
        stream_id = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":path", path), (":scheme", "http"), (":authority", f"{self.host}:{self.port}")]
        self.conn.send_headers(stream_id, hdrs + [(k.lower(), v) for k, v in headers.items()], end_stream=False)
        self._send_body(stream_id, first_part, end_stream=False)
        return stream_id

    def finish_upload(self, stream_id: int, rest: bytes) -> Response:
        self._send_body(stream_id, rest)
        self._pump(time.monotonic() + self.timeout, lambda: self._streams.get(stream_id, {}).get("done"))
        headers = dict(self._streams[stream_id]["headers"] or {})
        return Response(int(headers.pop(":status", 0)), headers, self._streams[stream_id]["body"])

    def _pump(self, deadline: float, done) -> None:
        """Reads frames until done() is true."""
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("HTTP/2 exchange did not finish in time")
            ready, _, _ = select.select([self.sock], [], [], remaining)
            if not ready:
                continue
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("server closed the HTTP/2 connection")
            for event in self.conn.receive_data(data):
                self._on_event(event)
            self.sock.sendall(self.conn.data_to_send())

    def _on_event(self, event):
        state = self._streams.setdefault(getattr(event, "stream_id", 0), {"headers": None, "body": b"", "done": False})
        if isinstance(event, h2.events.ResponseReceived):
            state["headers"] = {k: v for k, v in event.headers}
        elif isinstance(event, h2.events.TrailersReceived):
            # gRPC's status arrives in trailers; merged into the headers the Response carries.
            state["headers"] = {**(state["headers"] or {}), **{k: v for k, v in event.headers}}
        elif isinstance(event, h2.events.DataReceived):
            state["body"] += event.data
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
            state["done"] = True
            if isinstance(event, h2.events.StreamReset):
                state["reset"] = event.error_code
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = event

    _streams: dict

    def upload_until_answered(self, method: str, path: str, headers: dict[str, str], total: int,
                              chunk: int = 1 << 16, prefix: bytes = b"") -> tuple[Response, int]:
        """Streams `total` bytes, `prefix` then zeros (no content-length unless given in `headers`), stopping as soon
        as the server answers or resets the stream; returns (answer, bytes sent). A reset without an answer gives
        status 0."""
        self._streams = {}
        stream_id = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":path", path), (":scheme", "http"), (":authority", f"{self.host}:{self.port}")]
        hdrs += [(k.lower(), v) for k, v in headers.items()]
        self.conn.send_headers(stream_id, hdrs, end_stream=False)
        self.sock.sendall(self.conn.data_to_send())
        deadline = time.monotonic() + self.timeout
        sent = 0
        state = lambda: self._streams.get(stream_id, {})
        while not state().get("done") and sent < total:
            ready, _, _ = select.select([self.sock], [], [], 0)
            if ready:
                data = self.sock.recv(1 << 20)
                if not data:
                    raise ConnectionError("server closed the HTTP/2 connection")
                for event in self.conn.receive_data(data):
                    self._on_event(event)
                self.sock.sendall(self.conn.data_to_send())
                continue
            window = min(self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size, chunk)
            if window <= 0:
                ready, _, _ = select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))
                if not ready:
                    raise TimeoutError("no flow-control window and no answer")
                continue
            n = min(window, total - sent)
            part = prefix[sent:sent + n]
            self.conn.send_data(stream_id, part + bytes(n - len(part)), end_stream=sent + n >= total)
            sent += n
            self.sock.sendall(self.conn.data_to_send())
        self._pump(deadline, lambda: state().get("done"))
        s = state()
        headers_out = dict(s.get("headers") or {})
        status = int(headers_out.pop(":status", 0))
        return Response(status, headers_out, s.get("body", b"")), sent

    def requests(self, requests: list[tuple[str, str, bytes, dict[str, str]]]) -> list[Response]:
        """Starts every request (streams interleaved on the one connection), then collects the answers."""
        self._streams = {}
        ids = [self.start_request(m, p, b, h) for (m, p, b, h) in requests]
        deadline = time.monotonic() + self.timeout
        self._pump(deadline, lambda: all(self._streams.get(i, {}).get("done") for i in ids))
        out = []
        for i in ids:
            s = self._streams[i]
            headers = dict(s["headers"] or {})
            out.append(Response(int(headers.pop(":status", 0)), headers, s["body"]))
        return out
