#!/usr/bin/python3
"""An independent protocol-4 client, for checking that docs/PROTOCOL.md is enough.

Written in Python from docs/PROTOCOL.md ("Protocol version 4") and
docs/protocol-v4-vectors.json alone (its author did not read the TypeScript
sources), and it shares no code with the repository's TypeScript implementation.
If this client and the server disagree, the specification is ambiguous or one
of the two is wrong.

It does what a sender needs: the handshake (X25519, Ed25519, HKDF-SHA256 key
schedule, AES-256-GCM Sealed frames), the server key pinned per host:port on
first use, registration by ClientAuth, uploads as a STREAM of 256 KiB records,
and resume after a cut connection. It is a test client: it talks to 127.0.0.1
only, keeps its identity seed unencrypted in IDENTITY_DIR/identity.json and
its pins in IDENTITY_DIR/known_servers ("host:port SHA256:..." lines).

Depends only on the Python standard library and `cryptography` (Debian:
python3-cryptography), which supplies every primitive.

The test suite runs it against real servers (test/interop/python-client.test.ts:
npx vitest run test/interop/). By hand:

  v4_client.py vectors [--file docs/protocol-v4-vectors.json]
      Checks every known-answer vector; prints one line per check, then a
      JSON summary line. Exit 0 when all pass.
  v4_client.py send --server 127.0.0.1:PORT --dir IDENTITY_DIR --name NAME FILE
                    [--file-name STORED_NAME] [--cut-after-records N[,M...]]
                    [--cut-mode rst|fin] [--reconnect-delay SECONDS] [--lose-done]
      Uploads FILE (creating the identity on first use) and prints one JSON
      line: ok, clientId, serverFingerprint, the server's and our SHA-256,
      and each connection's attempt. --cut-after-records closes attempt k
      after that many records (RST or FIN), then reconnects and resumes.
      Exit 0 when the server's SHA-256 and size match ours, 1 when they do
      not, 2 when the server sent an Alert or Error, 3 on a protocol or
      connection failure (a changed server key among them).
"""
import argparse
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey, Ed25519PublicKey)
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey, X25519PublicKey)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# ---------------------------------------------------------------- constants
PREAMBLE = b"SFT protocol v4\x00" + bytes([4]) + b"\x00\x00" + b"\x00\x00\x00\x00"
assert len(PREAMBLE) == 23
VERSION = 4
SUITE = 1
RECORD = 262144
TAG = 16

F_CLIENT_HELLO, F_SERVER_HELLO, F_SEALED, F_CHUNK, F_ALERT = 1, 2, 3, 4, 5
# body length range per frame type (Frames table)
FRAME_RANGE = {1: (34, 34), 2: (34, 34), 3: (17, 4112), 4: (16, RECORD + TAG), 5: (5, 1029)}

M_CLIENT_AUTH, M_SERVER_AUTH, M_WELCOME = 0x10, 0x11, 0x12
M_UPLOAD_START, M_UPLOAD_READY, M_UPLOAD_DONE = 0x20, 0x21, 0x22
M_UPLOAD_ABORT, M_UPLOAD_ABORTED, M_BYE, M_ERROR = 0x23, 0x24, 0x30, 0x7F

ERRORS = {1: "MALFORMED", 2: "UNSUPPORTED", 3: "HANDSHAKE_FAILED", 4: "INVITE_REQUIRED",
          5: "INVITE_INVALID", 6: "OVER_QUOTA", 7: "FILE_TOO_LARGE", 8: "RATE_LIMITED",
          9: "BUSY", 10: "UPLOAD_EXPIRED", 11: "UNKNOWN_UPLOAD", 12: "UPLOAD_MISMATCH",
          13: "RECORD_INVALID", 14: "STORAGE_FAILED", 15: "BAD_NAME", 16: "INTERNAL",
          17: "TIMEOUT"}
MAX_SIZE = 2**53 - 1


class ProtocolError(Exception):
    """Something the peer sent broke the protocol (or a check of ours failed)."""


class PeerError(Exception):
    """The server sent an Alert (clear) or an Error (sealed)."""

    def __init__(self, kind, code, fatal, reason):
        self.kind, self.code, self.fatal, self.reason = kind, code, fatal, reason
        name = ERRORS.get(code, "INTERNAL(unknown %d)" % code)
        super().__init__("%s %d %s%s: %s" % (kind, code, name, " (fatal)" if fatal else "", reason))


# ---------------------------------------------------------------- primitives
def H(b):
    h = hashes.Hash(hashes.SHA256())
    h.update(b)
    return h.finalize()


def hkdf(ikm, salt, info, length):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def raw_pub(key):
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(server_key):
    return "SHA256:" + base64.b64encode(H(server_key)).decode().rstrip("=")


def seq_nonce(iv, seq):
    return bytes(a ^ b for a, b in zip(iv, b"\x00" * 4 + struct.pack(">Q", seq)))


def u16(b, o):
    return struct.unpack_from("<H", b, o)[0]


def u64(b, o):
    v = struct.unpack_from("<Q", b, o)[0]
    if v > MAX_SIZE:
        raise ProtocolError("u64 above 2^53-1")
    return v


# ---------------------------------------------------------------- key schedule
def handshake_keys(ss, th1):
    return {"c_key": hkdf(ss, th1, b"sft4 c hs key", 32), "c_iv": hkdf(ss, th1, b"sft4 c hs iv", 12),
            "s_key": hkdf(ss, th1, b"sft4 s hs key", 32), "s_iv": hkdf(ss, th1, b"sft4 s hs iv", 12)}


def session_keys(ss, th3):
    return {"c_key": hkdf(ss, th3, b"sft4 c ap key", 32), "c_iv": hkdf(ss, th3, b"sft4 c ap iv", 12),
            "s_key": hkdf(ss, th3, b"sft4 s ap key", 32), "s_iv": hkdf(ss, th3, b"sft4 s ap iv", 12),
            "binding": hkdf(ss, th3, b"sft4 session", 32)}


def stream_keys(file_key, binding, upload_id):
    return (hkdf(file_key, binding, b"sft4 stream key" + upload_id, 32),
            hkdf(file_key, binding, b"sft4 stream nonce" + upload_id, 7))


def stream_nonce(prefix, i, last):
    return prefix + struct.pack(">I", i) + (b"\x01" if last else b"\x00")


def record_count(size):
    return max(1, -(-size // RECORD))


# ---------------------------------------------------------------- framing
def frame(ftype, body):
    return struct.pack("<BBI", VERSION, ftype, len(body)) + body


class Direction:
    """One direction's AEAD state: key, iv, seq (Sealed frames)."""

    def __init__(self, key, iv):
        self.aead, self.iv, self.seq = AESGCM(key), iv, 0

    def seal(self, msg):
        if not 1 <= len(msg) <= 4096:
            raise ValueError("message length %d" % len(msg))
        header = struct.pack("<BBI", VERSION, F_SEALED, len(msg) + TAG)
        body = self.aead.encrypt(seq_nonce(self.iv, self.seq), msg, header)
        self.seq += 1
        return header + body

    def open(self, header, body):
        msg = self.aead.decrypt(seq_nonce(self.iv, self.seq), body, header)  # InvalidTag
        self.seq += 1
        if not msg:
            raise ProtocolError("empty sealed message")
        return msg


def parse_alert_or_error(kind, b):
    if len(b) < 5:
        raise ProtocolError("short %s" % kind)
    code, flags, n = struct.unpack_from("<HBH", b, 0)
    if len(b) != 5 + n:
        raise ProtocolError("%s reason length %d, body %d" % (kind, n, len(b)))
    return PeerError(kind, code, bool(flags & 1), b[5:].decode("utf-8", "replace"))


def alert_body(code, reason):
    r = reason.encode()[:1024]
    return struct.pack("<HBH", code, 1, len(r)) + r


class Conn:
    def __init__(self, host, port, timeout=30):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, b):
        self.sock.sendall(b)

    def recv_exact(self, n):
        out = bytearray()
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("server closed the connection (%d of %d bytes read)" % (len(out), n))
            out += chunk
        return bytes(out)

    def read_frame(self, allowed):
        header = self.recv_exact(6)
        version, ftype, length = struct.unpack("<BBI", header)
        if version != VERSION:
            raise ProtocolError("frame version %d (first byte; 3 means a version 3 server)" % version)
        if ftype not in allowed and ftype != F_ALERT:
            raise ProtocolError("unexpected frame type %d" % ftype)
        lo, hi = FRAME_RANGE.get(ftype, (0, -1))
        if not lo <= length <= hi:
            raise ProtocolError("frame type %d length %d out of range" % (ftype, length))
        body = self.recv_exact(length)
        if ftype == F_ALERT:
            raise parse_alert_or_error("Alert", body)
        return ftype, header, body

    def close(self, rst=False):
        try:
            if rst:  # abrupt: RST instead of FIN
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- messages
def enc_client_auth(ident, th2, name, invite=b""):
    pub = raw_pub(ident)
    sig = ident.sign(b"SFT v4 client signature\x00" + th2 + pub)
    nb = name.encode()
    if not 1 <= len(nb) <= 100:
        raise ValueError("name must be 1-100 bytes")
    return bytes([M_CLIENT_AUTH]) + pub + sig + bytes([len(nb)]) + nb + struct.pack("<H", len(invite)) + invite


def enc_upload_start(upload_id, resume, file_key, size, name):
    nb = name.encode()
    if not 1 <= len(nb) <= 255:
        raise ValueError("file name must be 1-255 bytes")
    return (bytes([M_UPLOAD_START]) + upload_id + bytes([1 if resume else 0]) + file_key
            + struct.pack("<QIH", size, RECORD, len(nb)) + nb)


def dec_message(msg):
    """Server -> client messages, as a dict."""
    t = msg[0]
    if t == M_ERROR:
        raise parse_alert_or_error("Error", msg[1:])
    if t == M_SERVER_AUTH:
        if len(msg) != 97:
            raise ProtocolError("ServerAuth length %d" % len(msg))
        return {"type": t, "key": msg[1:33], "sig": msg[33:97]}
    if t == M_WELCOME:
        if len(msg) != 26:
            raise ProtocolError("Welcome length %d" % len(msg))
        return {"type": t, "client_id": msg[1:17], "flags": msg[17], "max": u64(msg, 18)}
    if t == M_UPLOAD_READY:
        if len(msg) != 25:
            raise ProtocolError("UploadReady length %d" % len(msg))
        return {"type": t, "upload_id": msg[1:17], "next": u64(msg, 17)}
    if t == M_UPLOAD_DONE:
        if len(msg) < 59 or len(msg) != 59 + u16(msg, 57):
            raise ProtocolError("UploadDone length %d" % len(msg))
        return {"type": t, "upload_id": msg[1:17], "size": u64(msg, 17), "sha256": msg[25:57],
                "stored_name": msg[59:].decode("utf-8", "replace")}
    if t == M_UPLOAD_ABORTED:
        if len(msg) != 17:
            raise ProtocolError("UploadAborted length %d" % len(msg))
        return {"type": t, "upload_id": msg[1:17]}
    if t == M_BYE:
        if len(msg) != 1:
            raise ProtocolError("Bye length %d" % len(msg))
        return {"type": t}
    raise ProtocolError("unknown message type 0x%02x" % t)


# ---------------------------------------------------------------- identity and pins
class Identity:
    def __init__(self, folder):
        self.folder = folder
        os.makedirs(folder, mode=0o700, exist_ok=True)
        self.path = os.path.join(folder, "identity.json")
        self.pins_path = os.path.join(folder, "known_servers")
        if os.path.exists(self.path):
            with open(self.path) as f:
                d = json.load(f)
            self.key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(d["seed"]))
            self.client_id = d.get("clientId")
            self.is_new = False
        else:
            self.key = Ed25519PrivateKey.generate()
            self.client_id = None
            self.is_new = True
            self.save()

    def save(self):
        seed = self.key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                      serialization.NoEncryption())
        tmp = self.path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"seed": seed.hex(), "public": raw_pub(self.key).hex(), "clientId": self.client_id}, f)
        os.replace(tmp, self.path)

    def pins(self):
        out = {}
        if os.path.exists(self.pins_path):
            with open(self.pins_path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2:
                        out[parts[0]] = parts[1]
        return out

    def check_pin(self, hostport, fp):
        """'pinned-now' on first contact (trust on first use), 'pin-ok' when the key matches
        the pin; raises ProtocolError, naming both fingerprints, on a changed key."""
        known = self.pins().get(hostport)
        if known is None:
            with open(self.pins_path, "a") as f:
                f.write("%s %s\n" % (hostport, fp))
            return "pinned-now"
        if known != fp:
            raise ProtocolError("SERVER KEY CHANGED for %s: pinned %s, offered %s. Refusing; remove the "
                                "line from %s only if you trust the new key." % (hostport, known, fp, self.pins_path))
        return "pin-ok"


# ---------------------------------------------------------------- session
class Session:
    def __init__(self, host, port, ident, name, invite=b""):
        self.host, self.port = host, port
        self.conn = Conn(host, port)
        eph = X25519PrivateKey.generate()
        ch = frame(F_CLIENT_HELLO, struct.pack("<H", SUITE) + raw_pub(eph))
        self.conn.send(PREAMBLE)
        self.conn.send(ch)
        # ServerHello (first byte 3 = a version 3 server)
        first = self.conn.recv_exact(1)
        if first[0] != VERSION:
            raise ProtocolError("server's first byte is %d: not a version 4 server" % first[0])
        rest = self.conn.recv_exact(5)
        hdr = first + rest
        _, ftype, length = struct.unpack("<BBI", hdr)
        if ftype == F_ALERT and 5 <= length <= 1029:
            raise parse_alert_or_error("Alert", self.conn.recv_exact(length))
        if ftype != F_SERVER_HELLO or length != 34:
            raise ProtocolError("expected ServerHello, got type %d length %d" % (ftype, length))
        body = self.conn.recv_exact(34)
        sh = hdr + body
        if u16(body, 0) != SUITE:
            raise ProtocolError("server chose suite %d" % u16(body, 0))
        ss = eph.exchange(X25519PublicKey.from_public_bytes(body[2:34]))
        if ss == b"\x00" * 32:
            raise ProtocolError("all-zero X25519 shared secret")
        transcript = PREAMBLE + ch + sh
        th1 = H(transcript)
        hk = handshake_keys(ss, th1)
        c_hs, s_hs = Direction(hk["c_key"], hk["c_iv"]), Direction(hk["s_key"], hk["s_iv"])
        # ServerAuth
        _, h, b = self.conn.read_frame({F_SEALED})
        try:
            sa_msg = s_hs.open(h, b)
        except InvalidTag:
            self.refuse("ServerAuth did not decrypt")
        sa = dec_message(sa_msg)
        if sa["type"] != M_SERVER_AUTH:
            self.refuse("expected ServerAuth, got 0x%02x" % sa["type"])
        try:
            Ed25519PublicKey.from_public_bytes(sa["key"]).verify(
                sa["sig"], b"SFT v4 server signature\x00" + th1 + sa["key"])
        except InvalidSignature:
            self.refuse("ServerAuth signature does not verify")
        self.server_fp = fingerprint(sa["key"])
        try:
            self.pin = ident.check_pin("%s:%d" % (host, port), self.server_fp)
        except ProtocolError as e:
            self.refuse(str(e))
        transcript += sa_msg
        th2 = H(transcript)
        ca_msg = enc_client_auth(ident.key, th2, name, invite)
        self.conn.send(c_hs.seal(ca_msg))
        transcript += ca_msg
        th3 = H(transcript)
        sk = session_keys(ss, th3)
        self.tx, self.rx = Direction(sk["c_key"], sk["c_iv"]), Direction(sk["s_key"], sk["s_iv"])
        self.binding = sk["binding"]
        w = self.recv()
        if w["type"] != M_WELCOME:
            raise ProtocolError("expected Welcome, got 0x%02x" % w["type"])
        self.client_id = w["client_id"].hex()
        self.registered = bool(w["flags"] & 1)
        self.max_file_size = w["max"]

    def refuse(self, why):
        # Handshake section: "The client refuses (Alert 3 and close)".
        try:
            self.conn.send(frame(F_ALERT, alert_body(3, why)))
        except OSError:
            pass
        self.conn.close()
        raise ProtocolError("refused the server: " + why)

    def send_msg(self, msg):
        self.conn.send(self.tx.seal(msg))

    def recv(self):
        _, h, b = self.conn.read_frame({F_SEALED})
        try:
            return dec_message(self.rx.open(h, b))
        except InvalidTag:
            raise ProtocolError("a sealed frame from the server did not verify")

    def bye(self):
        # "Bye: the sender closes after it; the receiver closes too." The server does not
        # answer a Bye (it waits up to a second for us to close), so close at once.
        try:
            self.send_msg(bytes([M_BYE]))
        finally:
            self.conn.close()


# ---------------------------------------------------------------- upload
def iter_records(path, size, start):
    n = record_count(size)
    with open(path, "rb") as f:
        f.seek(start * RECORD)
        for i in range(start, n):
            data = f.read(RECORD)
            expect = min(RECORD, size - i * RECORD)
            if len(data) != expect:
                raise ProtocolError("file changed while reading (record %d)" % i)
            yield i, i == n - 1, data


def upload(sess, path, size, upload_id, file_key, name, resume, cut_after=None, cut_rst=False,
           lose_done=False):
    """Returns ('done', UploadDone dict, next) or ('cut', None, next). `lose_done`: send every
    record, give the server a moment to store the file, and close without reading UploadDone."""
    sess.send_msg(enc_upload_start(upload_id, resume, file_key, size, name))
    r = sess.recv()
    if resume and r["type"] == M_UPLOAD_DONE and r["upload_id"] == upload_id:
        # PROTOCOL.md, Resume: the server stored it already (the UploadDone was lost with
        # the connection): nothing to send, the SHA-256 is checked as after a whole upload.
        return "done", r, record_count(size)
    if r["type"] != M_UPLOAD_READY or r["upload_id"] != upload_id:
        raise ProtocolError("expected UploadReady for our upload, got 0x%02x" % r["type"])
    nxt = r["next"]
    if nxt >= record_count(size):
        # `next` must name a record still to send: a partial upload never holds its last
        # record (once that verifies, the file is stored and UploadDone sent).
        raise ProtocolError("server asks for record %d of %d" % (nxt, record_count(size)))
    skey, prefix = stream_keys(file_key, sess.binding, upload_id)
    aead = AESGCM(skey)
    sent = 0
    for i, last, data in iter_records(path, size, nxt):
        sess.conn.send(frame(F_CHUNK, aead.encrypt(stream_nonce(prefix, i, last), data, b"")))
        sent += 1
        if cut_after is not None and sent >= cut_after and not last:
            sess.conn.close(rst=cut_rst)
            return "cut", None, nxt
    if lose_done:
        time.sleep(0.5)
        sess.conn.close(rst=cut_rst)
        return "cut", None, nxt
    d = sess.recv()
    if d["type"] != M_UPLOAD_DONE or d["upload_id"] != upload_id:
        raise ProtocolError("expected UploadDone, got 0x%02x" % d["type"])
    return "done", d, nxt


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.digest()


def cmd_send(a):
    host, _, port = a.server.rpartition(":")
    port = int(port)
    if host not in ("127.0.0.1", "localhost"):
        raise SystemExit("this test client talks to 127.0.0.1 only")
    host = "127.0.0.1"
    ident = Identity(a.dir)
    size = os.path.getsize(a.file)
    if size > MAX_SIZE:
        raise SystemExit("file too large for the format")
    name = a.file_name or os.path.basename(a.file)
    own_sha = sha256_file(a.file)
    upload_id, file_key = os.urandom(16), os.urandom(32)
    result = {"file": a.file, "size": size, "identityNew": ident.is_new}
    t0 = time.monotonic()
    attempts = []
    notes = []
    resume = False
    cut = a.cut_after_records
    lose = 1 if a.lose_done else 0
    for attempt in range(1 + len(cut) + lose):  # bounded: one try per cut (and lost UploadDone), plus the last
        sess = Session(host, port, ident, a.name)
        if ident.client_id and ident.client_id != sess.client_id:
            notes.append({"note": "client ID changed", "old": ident.client_id, "new": sess.client_id})
        if ident.client_id != sess.client_id:
            ident.client_id = sess.client_id
            ident.save()
        this_cut = cut[attempt] if attempt < len(cut) else None
        state, done, nxt = upload(sess, a.file, size, upload_id, file_key, name, resume,
                                  this_cut, a.cut_mode == "rst", lose_done=attempt == len(cut) and lose == 1)
        attempts.append({"attempt": attempt, "clientId": sess.client_id, "registered": sess.registered,
                         "pin": sess.pin, "maxFileSize": sess.max_file_size, "next": nxt, "state": state})
        if state == "done":
            sess.bye()
            break
        resume = True
        time.sleep(a.reconnect_delay)
    else:
        raise ProtocolError("no UploadDone after %d attempts" % len(attempts))
    ok = done["sha256"] == own_sha and done["size"] == size
    result.update({"ok": ok, "uploadId": upload_id.hex(), "clientId": ident.client_id,
                   "serverFingerprint": sess.server_fp, "storedName": done["stored_name"],
                   "storedSize": done["size"], "sha256": done["sha256"].hex(), "ownSha256": own_sha.hex(),
                   "resumedFrom": attempts[-1]["next"], "attempts": attempts, "notes": notes,
                   "seconds": round(time.monotonic() - t0, 3)})
    print(json.dumps(result))
    return 0 if ok else 1


# ---------------------------------------------------------------- vectors
def cmd_vectors(a):
    with open(a.file) as f:
        v = json.load(f)
    ok_all = True
    checks, failed = 0, []

    def check(label, got, want):
        nonlocal ok_all, checks
        if isinstance(want, str):
            got = got.hex() if isinstance(got, (bytes, bytearray)) else got
        good = got == want
        ok_all &= good
        checks += 1
        if not good:
            failed.append(label)
        print("%-4s %s%s" % ("ok" if good else "FAIL", label, "" if good else "\n     got  %s\n     want %s" % (got, want)))

    x = lambda s: bytes.fromhex(s)
    inp, pr, hs, se, ms, st = (v[k] for k in ("inputs", "primitives", "handshake", "session", "messages", "stream"))

    # primitives
    p = pr["x25519"]
    a_ = X25519PrivateKey.from_private_bytes(x(p["alicePrivate"]))
    b_ = X25519PrivateKey.from_private_bytes(x(p["bobPrivate"]))
    check("x25519 alice public", raw_pub(a_), p["alicePublic"])
    check("x25519 bob public", raw_pub(b_), p["bobPublic"])
    check("x25519 shared", a_.exchange(X25519PublicKey.from_public_bytes(x(p["bobPublic"]))), p["shared"])
    p = pr["ed25519"]
    e = Ed25519PrivateKey.from_private_bytes(x(p["secret"]))
    check("ed25519 public", raw_pub(e), p["public"])
    check("ed25519 signature", e.sign(x(p["message"])), p["signature"])
    p = pr["hkdf"]
    check("hkdf okm", hkdf(x(p["ikm"]), x(p["salt"]), x(p["info"]), p["length"]), p["okm"])

    # handshake
    ce = X25519PrivateKey.from_private_bytes(x(inp["clientEphemeralSeed"]))
    se_ = X25519PrivateKey.from_private_bytes(x(inp["serverEphemeralSeed"]))
    ci = Ed25519PrivateKey.from_private_bytes(x(inp["clientIdentitySeed"]))
    si = Ed25519PrivateKey.from_private_bytes(x(inp["serverIdentitySeed"]))
    check("client ephemeral public", raw_pub(ce), hs["clientEphemeralPublic"])
    check("server ephemeral public", raw_pub(se_), hs["serverEphemeralPublic"])
    check("client identity public", raw_pub(ci), hs["clientIdentityPublic"])
    check("server identity public", raw_pub(si), hs["serverIdentityPublic"])
    check("server fingerprint", fingerprint(raw_pub(si)), hs["serverFingerprint"])
    check("preamble", PREAMBLE, hs["preamble"])
    ch = frame(F_CLIENT_HELLO, struct.pack("<H", SUITE) + raw_pub(ce))
    sh = frame(F_SERVER_HELLO, struct.pack("<H", SUITE) + raw_pub(se_))
    check("ClientHello frame", ch, hs["clientHelloFrame"])
    check("ServerHello frame", sh, hs["serverHelloFrame"])
    ss = ce.exchange(X25519PublicKey.from_public_bytes(raw_pub(se_)))
    check("shared secret (client side)", ss, hs["sharedSecret"])
    check("shared secret (server side)", se_.exchange(X25519PublicKey.from_public_bytes(raw_pub(ce))), hs["sharedSecret"])
    tr = PREAMBLE + ch + sh
    th1 = H(tr)
    check("TH1", th1, hs["th1"])
    hk = handshake_keys(ss, th1)
    for k, name in (("c_key", "clientHandshakeKey"), ("c_iv", "clientHandshakeIv"),
                    ("s_key", "serverHandshakeKey"), ("s_iv", "serverHandshakeIv")):
        check(name, hk[k], hs[name])
    spub = raw_pub(si)
    sa_msg = bytes([M_SERVER_AUTH]) + spub + si.sign(b"SFT v4 server signature\x00" + th1 + spub)
    check("ServerAuth plaintext (built)", sa_msg, se["serverAuthPlaintext"])
    check("ServerAuth frame (sealed, s hs seq 0)", Direction(hk["s_key"], hk["s_iv"]).seal(sa_msg), hs["serverAuthFrame"])
    fr = x(hs["serverAuthFrame"])
    opened = Direction(hk["s_key"], hk["s_iv"]).open(fr[:6], fr[6:])
    sa = dec_message(opened)
    try:
        Ed25519PublicKey.from_public_bytes(sa["key"]).verify(sa["sig"], b"SFT v4 server signature\x00" + th1 + sa["key"])
        check("ServerAuth signature verifies", True, True)
    except InvalidSignature:
        check("ServerAuth signature verifies", False, True)
    tr += sa_msg
    th2 = H(tr)
    check("TH2", th2, se["th2"])
    ca_msg = enc_client_auth(ci, th2, inp["clientName"])
    check("ClientAuth signature", ca_msg[33:97], hs["clientAuthSignature"])
    check("ClientAuth plaintext (built)", ca_msg, se["clientAuthPlaintext"])
    check("ClientAuth frame (sealed, c hs seq 0)", Direction(hk["c_key"], hk["c_iv"]).seal(ca_msg), hs["clientAuthFrame"])
    tr += ca_msg
    th3 = H(tr)
    check("TH3", th3, se["th3"])
    sk = session_keys(ss, th3)
    for k, name in (("c_key", "clientSessionKey"), ("c_iv", "clientSessionIv"), ("s_key", "serverSessionKey"),
                    ("s_iv", "serverSessionIv"), ("binding", "binding")):
        check(name, sk[k], se[name])

    # messages: server ones decrypted (their field values are not all in the inputs), client one built
    srx = Direction(sk["s_key"], sk["s_iv"])
    ctx = Direction(sk["c_key"], sk["c_iv"])
    uid, fkey = x(inp["uploadId"]), x(inp["fileKey"])
    fr = x(ms["welcomeFrame"])
    w = dec_message(srx.open(fr[:6], fr[6:]))
    check("Welcome client ID", w["client_id"], inp["clientId"])
    print("     Welcome flags=%d maxFileSize=%d" % (w["flags"], w["max"]))
    us = enc_upload_start(uid, False, fkey, inp["fileSize"], inp["fileName"])
    check("UploadStart frame (c ap seq 0)", ctx.seal(us), ms["uploadStartFrame"])
    fr = x(ms["uploadReadyFrame"])
    r = dec_message(srx.open(fr[:6], fr[6:]))
    check("UploadReady upload ID / next", (r["upload_id"].hex(), r["next"]), (inp["uploadId"], 0))
    fr = x(ms["uploadDoneFrame"])
    d = dec_message(srx.open(fr[:6], fr[6:]))
    check("UploadDone fields", (d["upload_id"].hex(), d["size"], d["sha256"].hex(), d["stored_name"]),
          (inp["uploadId"], inp["fileSize"], st["plaintextSha256"], inp["storedName"]))
    # and re-seal the server's messages to check the whole frames byte for byte
    s2 = Direction(sk["s_key"], sk["s_iv"])
    welcome = bytes([M_WELCOME]) + w["client_id"] + bytes([w["flags"]]) + struct.pack("<Q", w["max"])
    check("Welcome frame (re-built, s ap seq 0)", s2.seal(welcome), ms["welcomeFrame"])
    check("UploadReady frame (re-built, s ap seq 1)", s2.seal(bytes([M_UPLOAD_READY]) + uid + struct.pack("<Q", 0)),
          ms["uploadReadyFrame"])
    sn = inp["storedName"].encode()
    done = (bytes([M_UPLOAD_DONE]) + uid + struct.pack("<Q", inp["fileSize"]) + x(st["plaintextSha256"])
            + struct.pack("<H", len(sn)) + sn)
    check("UploadDone frame (re-built, s ap seq 2)", s2.seal(done), ms["uploadDoneFrame"])

    # stream. The file's content is not given in the JSON: byte i is (i mod 251), found by
    # opening record1 (it starts with 0x64 = 262144 mod 251).
    size = inp["fileSize"]
    plain = bytes(i % 251 for i in range(size))
    check("file plaintext SHA-256 (content i mod 251, inferred)", H(plain), st["plaintextSha256"])
    skey, prefix = stream_keys(fkey, sk["binding"], uid)
    check("stream key", skey, st["streamKey"])
    check("nonce prefix", prefix, st["noncePrefix"])
    check("nonce(0, not last)", stream_nonce(prefix, 0, False), st["nonce0"])
    check("nonce(1, last)", stream_nonce(prefix, 1, True), st["nonce1Last"])
    aead = AESGCM(skey)
    r0 = aead.encrypt(stream_nonce(prefix, 0, False), plain[:RECORD], b"")
    check("record 0 SHA-256 (of ciphertext||tag)", H(r0), st["record0Sha256"])
    check("record 0 tag", r0[-16:], st["record0Tag"])
    check("record 1 (last)", aead.encrypt(stream_nonce(prefix, 1, True), plain[RECORD:], b""), st["record1"])
    check("empty file record (record 0, last, same keys)", aead.encrypt(stream_nonce(prefix, 0, True), b"", b""),
          st["emptyFileRecord"])
    check("bindingMatchesBothSides", True, se["bindingMatchesBothSides"])
    print("ALL VECTORS PASSED" if ok_all else "SOME VECTORS FAILED")
    print(json.dumps({"ok": ok_all, "checks": checks, "failed": failed}))
    return 0 if ok_all else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("vectors", help="check docs/protocol-v4-vectors.json")
    v.add_argument("--file", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "..", "docs", "protocol-v4-vectors.json"))
    s = sub.add_parser("send", help="upload one file")
    s.add_argument("--server", required=True, help="127.0.0.1:PORT")
    s.add_argument("--dir", required=True, help="identity folder (created on first use)")
    s.add_argument("--name", required=True, help="display name (1-100 bytes UTF-8)")
    s.add_argument("--file-name", help="name to store under (default: the file's base name)")
    s.add_argument("--cut-after-records", type=lambda t: [int(n) for n in t.split(",")], default=[],
                   help="N[,M...]: close attempt k's connection after it sent that many records "
                        "(unless that was the last), then reconnect and resume")
    s.add_argument("--cut-mode", choices=("fin", "rst"), default="rst",
                   help="rst: abort the connection (unsent bytes dropped); fin: an orderly close")
    s.add_argument("--reconnect-delay", type=float, default=0.0)
    s.add_argument("--lose-done", action="store_true",
                   help="after the cuts, send every record but close before reading UploadDone, "
                        "then resume (the server answers UploadDone at once)")
    s.add_argument("file")
    a = ap.parse_args()
    try:
        return cmd_vectors(a) if a.cmd == "vectors" else cmd_send(a)
    except PeerError as e:
        print(json.dumps({"ok": False, "error": e.kind, "code": e.code, "name": ERRORS.get(e.code, "INTERNAL"),
                          "fatal": e.fatal, "reason": e.reason}))
        print("server %s" % e, file=sys.stderr)
        return 2
    except (ProtocolError, ConnectionError, socket.timeout, OSError) as e:
        print(json.dumps({"ok": False, "error": type(e).__name__, "reason": str(e)}))
        print("error: %s" % e, file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
