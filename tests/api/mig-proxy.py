#!/usr/bin/env python3
"""A relay for the migration tests: accepts on LISTEN and, in accept
order, connects each connection to TARGET and relays both ways, the
listener-to-target direction at most RATE bytes a second per connection (a
slow link, so a test can cut it mid-way). Killing it cuts every
connection at once: both peers see the link go. LISTEN and TARGET are
unix socket paths, or tcp:HOST:PORT (IPv4).

usage: mig-proxy.py LISTEN TARGET RATE
"""
import os
import socket
import sys
import threading
import time


def pump(src, dst, rate):
    try:
        while True:
            b = src.recv(16384)
            if not b:
                break
            dst.sendall(b)
            if rate:
                time.sleep(len(b) / rate)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def address(a):
    """(family, address) of a unix path or tcp:HOST:PORT"""
    if a.startswith("tcp:"):
        host, port = a[4:].rsplit(":", 1)
        return socket.AF_INET, (host, int(port))
    return socket.AF_UNIX, a


def main():
    listen, target, rate = address(sys.argv[1]), address(sys.argv[2]), int(sys.argv[3])
    if listen[0] == socket.AF_UNIX:
        try:
            os.unlink(listen[1])
        except FileNotFoundError:
            pass
    ls = socket.socket(listen[0], socket.SOCK_STREAM)
    if listen[0] == socket.AF_INET:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(listen[1])
    ls.listen(8)
    while True:
        c, _ = ls.accept()
        t = socket.socket(target[0], socket.SOCK_STREAM)
        t.connect(target[1])
        threading.Thread(target=pump, args=(c, t, rate), daemon=True).start()
        threading.Thread(target=pump, args=(t, c, 0), daemon=True).start()


if __name__ == "__main__":
    main()
