#!/usr/bin/env python3
"""A unix-socket relay for the migration tests: accepts on LISTEN and, in
accept order, connects each connection to TARGET and relays both ways, the
listener-to-target direction at most RATE bytes a second per connection (a
slow link, so a test can cut it mid-way). Killing it cuts every
connection at once: both peers see the link go.

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


def main():
    listen, target, rate = sys.argv[1], sys.argv[2], int(sys.argv[3])
    try:
        os.unlink(listen)
    except FileNotFoundError:
        pass
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(listen)
    ls.listen(8)
    while True:
        c, _ = ls.accept()
        t = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        t.connect(target)
        threading.Thread(target=pump, args=(c, t, rate), daemon=True).start()
        threading.Thread(target=pump, args=(t, c, 0), daemon=True).start()


if __name__ == "__main__":
    main()
