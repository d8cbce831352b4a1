#!/usr/bin/python3
"""Black-box probes of a protocol-4 server's edge cases, built on v4_client.py.

  probe_v4.py --server 127.0.0.1:PORT --dir IDENTITY_DIR

Each probe prints one JSON line: what was sent, what the server answered. The
answers are judged in python-client.test.ts against docs/PROTOCOL.md (Errors 11,
12, 13, 15, 7, 18, UploadAbort naming its upload, a resume taking an open upload
over); this script only observes. Only 127.0.0.1.
"""
import argparse
import json
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import v4_client as v  # noqa: E402

RECORD = v.RECORD


def answer(sess, timeout=5):
    """Next server message as a short dict, or the error / close."""
    sess.conn.sock.settimeout(timeout)
    try:
        m = sess.recv()
        out = {"type": "0x%02x" % m["type"]}
        for k in ("next", "size", "stored_name"):
            if k in m:
                out[k] = m[k]
        if "sha256" in m:
            out["sha256"] = m["sha256"].hex()
        return out
    except v.PeerError as e:
        return {"kind": e.kind, "code": e.code, "name": v.ERRORS.get(e.code), "fatal": e.fatal, "reason": e.reason}
    except (ConnectionError, socket.timeout, v.ProtocolError, OSError) as e:
        return {"closed_or_error": "%s: %s" % (type(e).__name__, e)}


def chunks(sess, uid, fkey, data, start, count):
    skey, prefix = v.stream_keys(fkey, sess.binding, uid)
    aead = v.AESGCM(skey)
    n = v.record_count(len(data))
    out = []
    for i in range(start, min(n, start + count)):
        pt = data[i * RECORD:(i + 1) * RECORD]
        out.append(v.frame(v.F_CHUNK, aead.encrypt(v.stream_nonce(prefix, i, i == n - 1), pt, b"")))
    return out


def report(name, **kw):
    print(json.dumps(dict(probe=name, **kw)))
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    host, port = "127.0.0.1", int(a.server.rpartition(":")[2])
    ident = v.Identity(a.dir)
    S = lambda: v.Session(host, port, ident, "prober")
    data = os.urandom(3 * RECORD + 10)  # 4 records

    # 1. resume flag for an ID the server never saw
    s = S()
    uid, fk = os.urandom(16), os.urandom(32)
    s.send_msg(v.enc_upload_start(uid, True, fk, len(data), "p-unknown"))
    report("resume-unknown-id", answer=answer(s))
    # connection still usable after a non-fatal error?
    s.send_msg(v.enc_upload_start(uid, False, fk, len(data), "p-unknown"))
    report("after-error-new-upload-same-conn", answer=answer(s))
    s.conn.send(b"".join(chunks(s, uid, fk, data, 0, 2)))
    s.conn.close()
    time.sleep(0.5)
    # 2. same ID without the resume flag while the server holds it
    s = S()
    s.send_msg(v.enc_upload_start(uid, False, fk, len(data), "p-unknown"))
    report("existing-id-without-resume-flag", answer=answer(s))
    # 3. resume with another size / name / key
    s.send_msg(v.enc_upload_start(uid, True, fk, len(data) + 1, "p-unknown"))
    report("resume-other-size", answer=answer(s))
    s.send_msg(v.enc_upload_start(uid, True, fk, len(data), "p-other-name"))
    report("resume-other-name", answer=answer(s))
    s.send_msg(v.enc_upload_start(uid, True, os.urandom(32), len(data), "p-unknown"))
    report("resume-other-key", answer=answer(s))
    # 4. proper resume, then UploadAbort between records
    s.send_msg(v.enc_upload_start(uid, True, fk, len(data), "p-unknown"))
    r = answer(s)
    report("resume-ok", answer=r)
    s.conn.send(chunks(s, uid, fk, data, r.get("next", 0), 1)[0])
    s.send_msg(bytes([v.M_UPLOAD_ABORT]) + uid)
    report("abort-between-records", answer=answer(s))
    s.send_msg(v.enc_upload_start(uid, True, fk, len(data), "p-unknown"))
    report("resume-after-abort", answer=answer(s))
    s.bye()

    # 5. a damaged record: Error 13, then the Chunks in flight dropped until the next Sealed
    s = S()
    uid, fk = os.urandom(16), os.urandom(32)
    s.send_msg(v.enc_upload_start(uid, False, fk, len(data), "p-damaged"))
    report("damaged-start", answer=answer(s))
    cs = chunks(s, uid, fk, data, 0, 4)
    bad = bytearray(cs[1])
    bad[10] ^= 1
    s.conn.send(cs[0] + bytes(bad) + cs[2] + cs[3])
    report("damaged-record-1", answer=answer(s))
    uid2 = os.urandom(16)
    s.send_msg(v.enc_upload_start(uid2, False, fk, 5, "p-after-damage"))
    r = answer(s)
    report("new-upload-after-damage", answer=r)
    if r.get("type") == "0x21":
        s.conn.send(chunks(s, uid2, fk, b"hello", 0, 1)[0])
        report("new-upload-after-damage-done", answer=answer(s))
    s.send_msg(v.enc_upload_start(uid, True, fk, len(data), "p-damaged"))
    report("resume-damaged-upload", answer=answer(s))
    s.bye()

    # 6. records out of order (record 1 first)
    s = S()
    uid, fk = os.urandom(16), os.urandom(32)
    s.send_msg(v.enc_upload_start(uid, False, fk, len(data), "p-order"))
    answer(s)
    cs = chunks(s, uid, fk, data, 0, 4)
    s.conn.send(cs[1])
    report("out-of-order-record", answer=answer(s, timeout=8))
    s.conn.send(cs[2])
    report("out-of-order-record-then-one-more", answer=answer(s, timeout=8))
    # 6b. a Chunk with no upload open, after the next Sealed frame
    other = os.urandom(16)
    s.send_msg(bytes([v.M_UPLOAD_ABORT]) + other)
    s.conn.sock.settimeout(5)
    try:
        m = s.recv()
        report("abort-other-id-while-open", answer="0x%02x" % m["type"],
               abortedId=m.get("upload_id", b"").hex(), openId=uid.hex(), sentId=other.hex())
    except Exception as e:
        report("abort-other-id-while-open", answer=repr(e))
    s.conn.send(cs[0])
    report("chunk-without-upload", answer=answer(s))
    s.conn.close()

    # 7. names, record size
    for label, name in (("slash", "a/b"), ("dotdot", ".."), ("control", "a\x01b"), ("backslash", "a\\b"),
                        ("dot", "."), ("unicode", "\u00e9t\u00e9 \u2603.txt"), ("spaces", " lead and trail ")):
        s = S()
        uid, fk = os.urandom(16), os.urandom(32)
        s.send_msg(v.enc_upload_start(uid, False, fk, 5, name))
        r = answer(s)
        if r.get("type") == "0x21":
            s.conn.send(chunks(s, uid, fk, b"hello", 0, 1)[0])
            r = {"ready": r, "then": answer(s)}
        report("file-name-" + label, fileName=name, answer=r)
        s.conn.close()
    s = S()
    msg = bytearray(v.enc_upload_start(os.urandom(16), False, os.urandom(32), 5, "p-rs"))
    struct.pack_into("<I", msg, 58, 65536)
    s.send_msg(bytes(msg))
    report("record-size-65536", answer=answer(s))
    s.conn.close()
    s = S()
    s.send_msg(v.enc_upload_start(os.urandom(16), False, os.urandom(32), 2**53, "p-big"))
    report("size-2^53", answer=answer(s))
    s.conn.close()
    s = S()
    s.send_msg(v.enc_upload_start(os.urandom(16), False, os.urandom(32), s.max_file_size + 1, "p-toobig"))
    report("size-max+1", max=s.max_file_size, answer=answer(s))
    s.conn.close()

    # 8. all records sent, cut before UploadDone is read, then resume: what does the client learn?
    s = S()
    uid, fk = os.urandom(16), os.urandom(32)
    s.send_msg(v.enc_upload_start(uid, False, fk, len(data), "p-cut-at-end"))
    answer(s)
    s.conn.send(b"".join(chunks(s, uid, fk, data, 0, 4)))
    s.conn.close()
    time.sleep(0.5)
    s = S()
    s.send_msg(v.enc_upload_start(uid, True, fk, len(data), "p-cut-at-end"))
    report("resume-after-complete-upload", answer=answer(s))
    s.conn.close()

    # 9. resume while the first connection still has the upload open
    s1 = S()
    uid, fk = os.urandom(16), os.urandom(32)
    s1.send_msg(v.enc_upload_start(uid, False, fk, len(data), "p-concurrent"))
    answer(s1)
    s1.conn.send(b"".join(chunks(s1, uid, fk, data, 0, 2)))
    time.sleep(0.3)
    s2 = S()
    s2.send_msg(v.enc_upload_start(uid, True, fk, len(data), "p-concurrent"))
    r = answer(s2)
    report("resume-while-open-elsewhere", answer=r)
    report("first-connection-after-that", answer=answer(s1, timeout=2))
    s1.conn.close()
    s2.conn.close()

    # 9b. two connections of one client cancel each other's open uploads at once
    c1, c2 = S(), S()
    x, kx, y, ky = os.urandom(16), os.urandom(32), os.urandom(16), os.urandom(32)
    c1.send_msg(v.enc_upload_start(x, False, kx, len(data), "p-cross-x"))
    answer(c1)
    c2.send_msg(v.enc_upload_start(y, False, ky, len(data), "p-cross-y"))
    answer(c2)
    c1.conn.send(chunks(c1, x, kx, data, 0, 1)[0])
    c2.conn.send(chunks(c2, y, ky, data, 0, 1)[0])
    time.sleep(0.3)
    t0 = time.monotonic()
    c1.send_msg(bytes([v.M_UPLOAD_ABORT]) + y)
    c2.send_msg(bytes([v.M_UPLOAD_ABORT]) + x)
    # Each connection gets two messages, in either order (which cancel the server takes
    # first is a race): UploadAborted for the other's upload, Error 18 for its own.
    a1 = [answer(c1, timeout=10), answer(c1, timeout=10)]
    a2 = [answer(c2, timeout=10), answer(c2, timeout=10)]
    report("cross-abort", first=a1, second=a2, seconds=round(time.monotonic() - t0, 2))
    c1.conn.close()
    c2.conn.close()

    # 10. suite 2, bad preamble, a ClientAuth with a bad signature
    c = v.Conn(host, port)
    c.send(v.PREAMBLE + v.frame(v.F_CLIENT_HELLO, struct.pack("<H", 2) + os.urandom(32)))
    c.sock.settimeout(5)
    try:
        report("suite-2", header=c.recv_exact(6).hex(), body=c.sock.recv(2000).hex())
    except Exception as e:
        report("suite-2", answer=repr(e))
    c.close()
    c = v.Conn(host, port)
    c.send(b"SFT protocol v4\x00\x04\x00\x00\x01\x00\x00\x00")
    c.sock.settimeout(5)
    try:
        report("bad-preamble-size-1", answer=c.sock.recv(100).hex())
    except Exception as e:
        report("bad-preamble-size-1", answer=repr(e))
    c.close()

    real_enc = v.enc_client_auth

    def bad_auth(key, th2, name, invite=b""):
        m = bytearray(real_enc(key, th2, name, invite))
        m[40] ^= 1
        return bytes(m)
    v.enc_client_auth = bad_auth
    try:
        S()
        report("bad-client-signature", answer="accepted!")
    except Exception as e:
        report("bad-client-signature", answer="%s: %s" % (type(e).__name__, e))
    finally:
        v.enc_client_auth = real_enc


if __name__ == "__main__":
    main()
