#!/usr/bin/python3
# A small HTTPS (or HTTP) web server that is not imgxfer: it serves the
# files of one folder with ranged GETs, and takes PUTs with a
# Content-Range into existing files. OPTIONS is not implemented (501), as
# in any web server without an imageio behind it, or answers as old
# imageio daemons (405) and proxies (204) did with --options=STATUS.
# With --cut-first-get=WHERE the first GET finds its connection closed, as
# when a server goes away: before any answer (none) or in the answer's
# head (head); the server then closes every connection after its answer,
# so that the GET goes on a connection of its own (a request that finds a
# kept-alive connection closed is sent again by libsoup itself). With
# --close-after-answer each connection ends after its answer, unannounced,
# as that of a server whose keep-alive timeout is shorter than the
# client's pause. Prints the port it listens on (on 127.0.0.1), then
# serves until killed.
#
# usage: web-server.py ROOT [--cert FILE --key FILE] [--options=STATUS]
#                      [--cut-first-get=none|head] [--close-after-answer]
#
# SPDX-License-Identifier: LGPL-2.1-or-later
import argparse
import http.server
import os
import re
import ssl
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def path_of(self):
        name = os.path.basename(self.path.split("?")[0])
        return os.path.join(self.server.root, name)

    def end_headers(self):
        if self.server.close_after_answer:
            self.close_connection = True
        super().end_headers()

    def fail(self, status, message):
        body = (message + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def cut(self):
        with self.server.lock:
            where, self.server.cut = self.server.cut, None
        if where is None:
            return False
        if where == "head":
            self.wfile.write(b"HTTP/1.0 206 Partial")
        self.close_connection = True
        return True

    def do_GET(self):
        if self.cut():
            return
        path = self.path_of()
        if not os.path.isfile(path):
            return self.fail(404, "No such image: " + self.path)
        size = os.path.getsize(path)
        first, last = 0, size - 1
        status = 200
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if m:
            first = int(m.group(1))
            last = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
            if first >= size:
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        self.send_response(status)
        self.send_header("Content-Length", str(last - first + 1))
        if status == 206:
            self.send_header("Content-Range",
                             "bytes %d-%d/%d" % (first, last, size))
        self.end_headers()
        with open(path, "rb") as f:
            f.seek(first)
            todo = last - first + 1
            while todo:
                chunk = f.read(min(todo, 1024 * 1024))
                self.wfile.write(chunk)
                todo -= len(chunk)

    def do_OPTIONS(self):
        if self.server.options_status is None:
            return self.fail(501, "Unsupported method ('OPTIONS')")
        if self.server.options_status == 204:
            self.send_response(204)
            self.end_headers()
            return
        self.fail(self.server.options_status, "Method not allowed")

    def do_PUT(self):
        path = self.path_of()
        length = int(self.headers["Content-Length"])
        m = re.fullmatch(r"bytes (\d+)-(\d+)/.*",
                         self.headers.get("Content-Range", "bytes 0-0/*"))
        offset = int(m.group(1))
        data = self.rfile.read(length)
        if not os.path.isfile(path):
            return self.fail(404, "No such image: " + self.path)
        if offset + length > os.path.getsize(path):
            return self.fail(416, "Write past the end of " + self.path)
        with open(path, "r+b") as f:
            f.seek(offset)
            f.write(data)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--options", type=int)
    parser.add_argument("--cut-first-get", choices=["none", "head"])
    parser.add_argument("--close-after-answer", action="store_true")
    args = parser.parse_args()

    if args.cut_first_get:
        Handler.protocol_version = "HTTP/1.0"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.lock = threading.Lock()
    server.cut = args.cut_first_get
    server.close_after_answer = args.close_after_answer
    server.daemon_threads = True
    server.root = args.root
    server.options_status = args.options
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
