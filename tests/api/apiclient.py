# SPDX-License-Identifier: Apache-2.0
"""A client of cvmm's management API for the tests, and the check that
keeps docs/api/cvmm.yaml honest: every response received is validated
against the status codes and schemas that file lists for its path and
method (python3-jsonschema on the file's schemas; OpenAPI's `nullable`
becomes a JSON-Schema null type). A response the file does not describe
fails the test that received it."""
import array
import json
import os
import re
import socket
import sys
import time

import jsonschema
import yaml

TOP = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))
SPEC = yaml.safe_load(open(os.path.join(TOP, "docs", "api", "cvmm.yaml")))


def _openapi_to_jsonschema(node):
    if isinstance(node, dict):
        out = {k: _openapi_to_jsonschema(v) for k, v in node.items()
               if k not in ("nullable", "description")}
        if node.get("nullable") and "type" in out:
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(node, list):
        return [_openapi_to_jsonschema(v) for v in node]
    return node


COMPONENTS = _openapi_to_jsonschema(SPEC["components"])
VALIDATED = {"responses": 0}


class SpecError(AssertionError):
    pass


def validate(method, path, status, body):
    """Raise SpecError unless docs/api/cvmm.yaml describes this answer."""
    ep = path[len("/api/v1"):] if path.startswith("/api/v1") else None
    ops = SPEC["paths"].get(ep) if ep else None
    if ops is None or method.lower() not in ops:
        # no such endpoint or method: the server's own refusals
        if status not in (400, 404, 405, 408, 413, 503):
            raise SpecError("%s %s: status %d for an undocumented endpoint" % (method, path, status))
        schema = {"$ref": "#/components/schemas/Error"}
    else:
        resp = ops[method.lower()]["responses"].get(str(status))
        if resp is None:
            raise SpecError("%s %s: status %d is not in docs/api/cvmm.yaml" % (method, path, status))
        content = resp.get("content")
        if not content:
            if body is not None:
                raise SpecError("%s %s: %d has a body the file does not describe" % (method, path, status))
            VALIDATED["responses"] += 1
            return
        schema = content["application/json"]["schema"]
    if body is None:
        raise SpecError("%s %s: %d without the JSON body the file describes" % (method, path, status))
    try:
        jsonschema.validate(body, dict(schema, components=COMPONENTS))
    except jsonschema.ValidationError as e:
        raise SpecError("%s %s: %d body does not match docs/api/cvmm.yaml: %s" % (
            method, path, status, e.message))
    VALIDATED["responses"] += 1


def read_response(s, timeout=10.0):
    """One HTTP response from socket @s: (status, headers text, body bytes)."""
    s.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", head)
    if not m:
        raise AssertionError("not an HTTP response: %r" % data[:200])
    status = int(m.group(1))
    cl = re.search(rb"\r\nContent-Length: (\d+)", head)
    need = int(cl.group(1)) if cl else 0
    while len(body) < need:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, head.decode(), body[:need]


class Client:
    def __init__(self, sock):
        self.sock = sock

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock)
        return s

    def raw(self, data, fds=None, timeout=10.0, eof=False):
        """Send raw bytes (then end the stream with @eof); return (status,
        json or None) of the answer."""
        s = self.connect()
        try:
            if fds:
                s.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
            else:
                try:
                    s.sendall(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # refused early (413): the answer is still there to read
            if eof:
                s.shutdown(socket.SHUT_WR)
            status, _, body = read_response(s, timeout)
        finally:
            s.close()
        return status, (json.loads(body) if body else None)

    def req(self, method, endpoint, body=None, fds=None, raw_body=None, check=True):
        """A request to /api/v1/ENDPOINT; the answer is validated against the spec."""
        path = "/api/v1/" + endpoint
        if raw_body is None:
            raw_body = json.dumps(body).encode() if body is not None else b""
        data = ("%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\n\r\n" % (method, path, len(raw_body))).encode() + raw_body
        status, j = self.raw(data, fds)
        if check:
            validate(method, path, status, j)
        return status, j

    def wait_ready(self, timeout=10.0):
        end = time.time() + timeout
        while time.time() < end:
            try:
                return self.req("GET", "vmm.ping")
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.01)
        raise AssertionError("vmm.ping: no answer within %.0f s" % timeout)


class Tap:
    """TAP output for automake's tap-driver."""

    def __init__(self, plan):
        self.n = 0
        self.failed = 0
        print("1..%d" % plan, flush=True)

    def check(self, desc, cond, detail=""):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, desc), flush=True)
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, desc), flush=True)
            if detail:
                for line in str(detail).splitlines():
                    print("# " + line, flush=True)
        return cond

    def skip_rest(self, plan, why):
        while self.n < plan:
            self.n += 1
            print("ok %d # SKIP %s" % (self.n, why), flush=True)

    def done(self):
        print("# %d responses validated against docs/api/cvmm.yaml" % VALIDATED["responses"],
              flush=True)
        return 1 if self.failed else 0
