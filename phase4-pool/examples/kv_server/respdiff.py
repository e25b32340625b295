#!/usr/bin/env python3
"""respdiff.py - send the same bytes to Redis and to kv_server, and compare the replies.

The cases are the table in tests/test_kv_replies.c (CASE and CLOSES entries
between "CASES BEGIN" and "CASES END"): the bytes a client sends, and the
bytes that test expects back. For each case this tool

  1. empties both servers (FLUSHALL on a connection of its own);
  2. opens a connection to each, sends the case's bytes, and reads the reply:
     for a CASE, up to the reply to an ECHO it sends after the case (so that
     nothing is read by guessing how long to wait); for a CLOSES case, until
     the server closes the connection;
  3. prints OK when Redis, kv_server and the test's expected bytes agree, and
     otherwise all three.

Usage (start both servers first; see README.md):
  redis-server --save '' --appendonly no --port 7379 &
  build/phase4/examples/kv_server --port 7380 --shards 3 &
  python3 phase4-pool/examples/kv_server/respdiff.py --redis 7379 --kv 7380

--only NAME runs one case; --regen prints each case with Redis's reply, as C,
to paste into the table when a case is added.
"""
import argparse
import os
import re
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = os.path.join(HERE, "..", "..", "..", "tests", "test_kv_replies.c")
MARKER = b"*2\r\n$4\r\nECHO\r\n$13\r\n<end-of-case>\r\n"
MARKER_REPLY = b"$13\r\n<end-of-case>\r\n"

C_ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "0": b"\0", "\\": b"\\", '"': b'"', "'": b"'",
             "a": b"\a", "b": b"\b", "f": b"\f", "v": b"\v", "?": b"?"}


def c_string(body):
    """The bytes of a C string literal's body (between the quotes)."""
    out, i = bytearray(), 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("latin-1")
            i += 1
            continue
        e = body[i + 1]
        if e == "x":
            m = re.match(r"[0-9a-fA-F]+", body[i + 2:])
            out.append(int(m.group(0), 16) & 0xFF)
            i += 2 + len(m.group(0))
        elif e in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1:])
            out.append(int(m.group(0), 8))
            i += 1 + len(m.group(0))
        else:
            out += C_ESCAPES[e]
            i += 2
    return bytes(out)


def read_cases(path):
    """[(name, send, expect, closes)] from the table in the test file."""
    with open(path, encoding="latin-1") as f:
        text = f.read()
    if "CASES BEGIN" not in text or "CASES END" not in text:
        raise ValueError("no table of cases (between CASES BEGIN and CASES END) in it")
    table = text[text.index("CASES BEGIN"):text.index("CASES END")]
    cases = []
    for m in re.finditer(r"\b(CASE|CLOSES)\(", table):
        args, i, current = [], m.end(), None
        while table[i] != ")":
            if table[i] == '"':
                j = i + 1
                while table[j] != '"':
                    j += 2 if table[j] == "\\" else 1
                current = (current or b"") + c_string(table[i + 1:j])
                i = j + 1
            elif table[i] == ",":
                args.append(current)
                current = None
                i += 1
            else:
                i += 1
        args.append(current)
        name, send, expect = args
        cases.append((name.decode(), send, expect, m.group(1) == "CLOSES"))
    return cases


def exchange(port, data, closes, timeout=5.0):
    """Send `data` on a new connection; the reply (see the module's docstring)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(FLUSH_FIRST)
    got = b""
    while len(got) < 5:
        got += s.recv(5 - len(got))
    s.sendall(data if closes else data + MARKER)
    reply = b""
    try:
        while closes or not reply.endswith(MARKER_REPLY):
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    except (ConnectionResetError, socket.timeout) as e:
        reply += ("<%s>" % type(e).__name__).encode()
    s.close()
    return reply if closes else reply[: -len(MARKER_REPLY)]


def talk(ap, which, port, data, closes):
    """exchange(), or a one-line error (status 2) when the server cannot be reached."""
    try:
        return exchange(port, data, closes)
    except OSError as e:  # refused, or no answer to the FLUSHALL within the timeout
        print("respdiff.py: --%s %d: %s" % (which, port, e), file=sys.stderr)
        sys.exit(2)


FLUSH_FIRST = b"FLUSHALL\r\n"  # its +OK (5 bytes) is read before the case starts


def c_literal(b):
    out = ""
    for byte in b:
        ch = chr(byte)
        if ch == "\r":
            out += "\\r"
        elif ch == "\n":
            out += "\\n"
        elif ch in '"\\':
            out += "\\" + ch
        elif 32 <= byte < 127:
            out += ch
        else:
            out += '" "\\x%02x" "' % byte
    return '"%s"' % out


def port(text):
    """A TCP port for argparse: digits only, 1 to 65535."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError("%r is not a port from 1 to 65535" % text)
    return int(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--redis", type=port, required=True, help="port of a redis-server")
    ap.add_argument("--kv", type=port, help="port of a kv_server")
    ap.add_argument("--only", help="run only the case with this name")
    ap.add_argument("--regen", action="store_true", help="print the cases with Redis's replies")
    ap.add_argument("--table", default=TABLE, help="the test file holding the cases")
    args = ap.parse_args()
    bad = 0
    try:
        cases = read_cases(args.table)
    except (OSError, ValueError) as e:  # no such file, or no table in it
        ap.error("--table %s: %s" % (args.table, e))
    if args.only:
        cases = [c for c in cases if c[0] == args.only]
        if not cases:
            ap.error("--only %s: %s has no case of that name" % (args.only, args.table))
    for name, send, expect, closes in cases:
        want = talk(ap, "redis", args.redis, send, closes)
        if args.regen:
            print('    %s("%s", %s, %s),' % ("CLOSES" if closes else "CASE", name,
                                            c_literal(send), c_literal(want)))
            continue
        got = talk(ap, "kv", args.kv, send, closes) if args.kv else want
        if want == expect == got:
            print("OK    %s" % name)
            continue
        bad += 1
        print("DIFF  %s\n  sent      %r\n  redis     %r\n  kv_server %r\n  expected  %r"
              % (name, send, want, got, expect))
    if not args.regen:
        print("%s" % ("all cases agree" if bad == 0 else "%d cases differ" % bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
