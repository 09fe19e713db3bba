# Aetheria's in-sandbox job runner. The host starts it once per sandbox (as `python3 -c`, so it needs
# nothing from the image but python3) and sends one JSON request per line on stdin; it answers with
# binary frames on stdout: 1 byte kind, 4 bytes big-endian length, payload. Kinds: R ready,
# O stdout, E stderr, X exit (JSON), F file (bytes), A ack (JSON), ! error (JSON), and for a
# sandbox whose proxy is reached through these pipes (AETHERIA_EGRESS_TUNNEL=1: a Docker engine
# that cannot take the host's socket) C connection opened, T its bytes, Z its end, each with a
# 4-byte id first; the host answers with "net" and "net_end" requests.
# It confines itself with Landlock where the kernel allows. One job runs at a time. When a job ends,
# and when its deadline passes or the host says "kill", every other process of the code's user in
# the sandbox is killed, so nothing outlives its exec. Where the sandbox starts it as root (Docker,
# with no capability but SETUID, SETGID and KILL), code runs as another uid (AETHERIA_CODE_USER),
# so it can neither signal, trace nor read the runner; files moved in and out are written and read
# as that uid too. Where code shares the runner's uid (bubblewrap), it gets a Landlock domain of
# its own that keeps its signals in, and the host's filter of calls that name another process
# (AETHERIA_CODE_FILTER): it can neither stop, kill, limit nor starve the runner.
import base64, json, os, queue, signal, socket, struct, subprocess, sys, threading, time

OUT = sys.stdout.buffer
LOCK = threading.Lock()
STATE = {"proc": None, "killed": False}
# The host's proxy socket (when the person let this sandbox online) and where it is served as an
# HTTP proxy for code, which has no other way out.
EGRESS_SOCKET = "/run/aetheria/egress.sock"
EGRESS_PROXY = ("127.0.0.1", 3128)
PROXY_ENV = {}
TUNNEL = os.environ.get("AETHERIA_EGRESS_TUNNEL") == "1"
# Tunnelled connections by id, while open: {"sock", "queue" (bytes from the host), "ends"}.
CONNS = {}
NEXT_CONN = [0]


def relay_cap():
    # Connections relayed at once: two threads each, which count against the sandbox's process
    # limit, so an eighth of it (at most 64) leaves room for code and the runner itself.
    limit = None
    for path in ("/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"):
        try:
            with open(path) as f:
                value = f.read().strip()
            if value.isdigit():
                limit = int(value)
                break
        except OSError:
            pass
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_NPROC)[0]
        if soft != resource.RLIM_INFINITY:
            limit = min(limit or soft, soft)
    except (ImportError, OSError, ValueError):
        pass
    return max(1, min(64, (limit or 512) // 8))


RELAYS = threading.BoundedSemaphore(relay_cap())


def code_user():
    # (uid, gid) code runs as when the runner is root; None when both share one uid.
    if os.getuid() != 0:
        return None
    uid, _, gid = os.environ.get("AETHERIA_CODE_USER", "").partition(":")
    if not uid.isdigit() or not gid.isdigit() or int(uid) == 0:
        raise SystemExit("the runner is root but no other user was named for code")
    return int(uid), int(gid)


CODE_USER = code_user()
# Keyword arguments that start a process as the code's user.
AS_CODE = ({"user": CODE_USER[0], "group": CODE_USER[1], "extra_groups": []}
           if CODE_USER else {})


def code_confinement():
    # Prepared once, so that little runs between fork and exec: a Landlock ruleset that scopes
    # signals and abstract sockets to code's own domain (ABI 6, Linux 6.12; the runner, outside
    # it, may still signal code), and the host's seccomp filter. None with a separate uid.
    if CODE_USER:
        return None
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    found = {"syscall": libc.syscall, "prctl": libc.prctl, "scope": None, "filter": None}
    abi = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi >= 6:
        attr = (ctypes.c_uint64 * 3)(0, 0, 1 << 0 | 1 << 1)
        fd = libc.syscall(444, ctypes.byref(attr), ctypes.c_size_t(24), ctypes.c_uint32(0))
        if fd >= 0:
            found["scope"] = fd
    found["abi"] = abi
    program = bytes.fromhex(os.environ.get("AETHERIA_CODE_FILTER", ""))
    if program:
        class Fprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        buf = ctypes.create_string_buffer(program, len(program))
        found["buf"] = buf
        found["filter"] = Fprog(len(program) // 8, ctypes.addressof(buf))
    return found


CODE_CONFINE = code_confinement()


def start_code():
    # Runs in the code's process between fork and exec. Jobs run at a lower priority than the
    # runner, so a CPU-hungry job (a fork bomb) cannot starve the runner of the time it needs to
    # kill it at the deadline.
    os.nice(10)
    c = CODE_CONFINE
    if c is None:
        return
    if c["scope"] is not None and c["syscall"](446, c["scope"], 0) != 0:
        raise OSError("Landlock refused to scope the code's signals")
    if c["filter"] is not None:
        import ctypes
        # PR_SET_SECCOMP, SECCOMP_MODE_FILTER (no_new_privs is already set).
        if c["prctl"](22, 2, ctypes.byref(c["filter"]), 0, 0) != 0:
            raise OSError("the kernel refused the code's seccomp filter")


def confinement_report():
    c = CODE_CONFINE
    if c is None:
        return "separate uid"
    scope = ("signals scoped" if c["scope"] is not None
             else "signals not scoped (Landlock ABI %d; 6 is needed)" % c["abi"])
    return scope + (", filter" if c["filter"] is not None else ", no filter")


def frame(kind, payload, conn=None):
    # A connection's frame goes only while it is open (none after its program ended).
    with LOCK:
        if conn is not None:
            if conn not in CONNS:
                return False
            payload = struct.pack(">I", conn) + payload
        OUT.write(kind + struct.pack(">I", len(payload)) + payload)
        OUT.flush()
        return True


def reply(kind, obj):
    frame(kind, json.dumps(obj).encode())


def oom_kills():
    for path, key in (("/sys/fs/cgroup/memory.events", "oom_kill"),
                      ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill")):
        try:
            with open(path) as f:
                for line in f:
                    name, _, value = line.partition(" ")
                    if name == key:
                        return int(value)
        except OSError:
            pass
    return None


def others():
    # Every process but init and the runner: the code's (with a separate uid every other one is).
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in (1, me):
            try:
                if CODE_USER or os.stat("/proc/" + name).st_uid == os.getuid():
                    found.append(int(name))
            except OSError:
                pass
    return found


def kill_all():
    # kill(-1) reaches every process the runner may signal except init and the runner itself:
    # those of its own uid, or with CAP_KILL (as root) every one.
    for _ in range(50):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        time.sleep(0.005)
        left = [p for p in others() if p != os.getppid()]
        if not left:
            return


def pump(stream, kind, done):
    fd = stream.fileno()
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        frame(kind, chunk)
    done.set()


def shut(sock, how):
    try:
        sock.shutdown(how)
    except OSError:
        pass


def relay_over(ends, a, b):
    # One direction of a relayed connection is over; the second to end closes both sockets and
    # frees the connection's place.
    with ends[0]:
        ends[1] += 1
        last = ends[1] == 2
    if last:
        a.close()
        b.close()
        RELAYS.release()


def relay(source, sink, ends):
    try:
        while True:
            chunk = source.recv(65536)
            if not chunk:
                break
            sink.sendall(chunk)
    except OSError:
        pass
    shut(sink, socket.SHUT_WR)
    relay_over(ends, source, sink)


def refuse(client, status, why):
    try:
        body = why.encode()
        client.sendall(b"HTTP/1.1 %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                       % (status.encode(), len(body)) + body)
    except OSError:
        pass
    client.close()


def accepted(listener):
    # Each client the cap on connections lets in (its place taken); past the cap a 503, and on.
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        if RELAYS.acquire(blocking=False):
            yield client
        else:
            refuse(client, "503 Service Unavailable",
                   "too many connections through the sandbox's proxy at once\n")


def serve_egress(listener):
    for client in accepted(listener):
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(EGRESS_SOCKET)
        except OSError as e:
            upstream.close()
            RELAYS.release()
            refuse(client, "502 Bad Gateway",
                   "the sandbox's way out (Aetheria's proxy on the host) cannot be reached: %s\n"
                   % e)
            continue
        ends = [threading.Lock(), 0]
        try:
            threading.Thread(target=relay, args=(client, upstream, ends), daemon=True).start()
        except RuntimeError:
            # No thread to spare: this connection is refused, the proxy goes on.
            upstream.close()
            RELAYS.release()
            refuse(client, "503 Service Unavailable", "the sandbox has no thread to spare\n")
            continue
        try:
            threading.Thread(target=relay, args=(upstream, client, ends), daemon=True).start()
        except RuntimeError:
            # This direction never starts: shut both ends so the other one stops too.
            shut(upstream, socket.SHUT_RDWR)
            shut(client, socket.SHUT_RDWR)
            relay_over(ends, upstream, client)


def tunnel_done(cid, conn):
    # One direction of a tunnelled connection is over; the second closes it and frees its place.
    with conn["ends"][0]:
        conn["ends"][1] += 1
        last = conn["ends"][1] == 2
    if last:
        with LOCK:
            CONNS.pop(cid, None)
        conn["sock"].close()
        RELAYS.release()


def tunnel_out(cid, conn):
    # Code's bytes, to the host.
    sock = conn["sock"]
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk or not frame(b"T", chunk, cid):
                break
    except OSError:
        pass
    frame(b"Z", b"", cid)
    tunnel_done(cid, conn)


def tunnel_in(cid, conn):
    # The proxy's bytes, from the host, to code; None is the proxy's end.
    sock = conn["sock"]
    while True:
        data = conn["queue"].get()
        if data is None:
            break
        try:
            sock.sendall(data)
        except OSError:
            break
    shut(sock, socket.SHUT_WR)
    tunnel_done(cid, conn)


def to_code(req, data):
    # A "net" or "net_end" request: bytes or the end for a connection. Code that does not read
    # what the proxy sends loses the connection rather than the runner growing without bound.
    conn = CONNS.get(req.get("id"))
    if conn is None:
        return
    try:
        conn["queue"].put_nowait(data)
    except queue.Full:
        shut(conn["sock"], socket.SHUT_RDWR)


def close_tunnels():
    # The program ended: its connections go, and no frame of theirs follows.
    with LOCK:
        conns = list(CONNS.values())
        CONNS.clear()
    for conn in conns:
        shut(conn["sock"], socket.SHUT_RDWR)
        try:
            conn["queue"].put_nowait(None)
        except queue.Full:
            pass


def serve_tunnel(listener):
    for client in accepted(listener):
        NEXT_CONN[0] += 1
        cid = NEXT_CONN[0]
        conn = {"sock": client, "queue": queue.Queue(maxsize=256), "ends": [threading.Lock(), 0]}
        with LOCK:
            CONNS[cid] = conn
        frame(b"C", b"", cid)
        started = 0
        for direction in (tunnel_out, tunnel_in):
            try:
                threading.Thread(target=direction, args=(cid, conn), daemon=True).start()
                started += 1
            except RuntimeError:
                break
        if started < 2:
            # No thread to spare: the connection ends (a direction that runs sees it end).
            shut(client, socket.SHUT_RDWR)
            if started == 0:
                frame(b"Z", b"", cid)
            for _ in range(2 - started):
                tunnel_done(cid, conn)


def egress():
    # Serves the host's proxy on loopback, where every HTTP client finds a proxy: its socket bound
    # in here, or the host reached through these pipes. Code of this uid could bind the port
    # itself, but only the runner starts before it.
    direct = os.path.exists(EGRESS_SOCKET)
    if not direct and not TUNNEL:
        return None
    try:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(EGRESS_PROXY)
        listener.listen(64)
    except OSError as e:
        return "error: %s" % e
    threading.Thread(target=serve_egress if direct else serve_tunnel, args=(listener,),
                     daemon=True).start()
    url = "http://%s:%d" % EGRESS_PROXY
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        PROXY_ENV[name] = PROXY_ENV[name.lower()] = url
    PROXY_ENV["NO_PROXY"] = PROXY_ENV["no_proxy"] = "localhost,127.0.0.1,::1"
    # Node's own fetch follows the variables only when asked to.
    PROXY_ENV["NODE_USE_ENV_PROXY"] = "1"
    return url


def run(req):
    started = time.monotonic()
    before = oom_kills()
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"),
           "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1", "TMPDIR": "/tmp"}
    env.update(PROXY_ENV)
    env.update(req.get("env") or {})
    try:
        proc = subprocess.Popen(req["argv"], cwd=req.get("cwd") or "/", env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True,
                                preexec_fn=start_code, **AS_CODE)
    except (OSError, subprocess.SubprocessError) as e:
        reply(b"X", {"code": 127, "signal": None, "timed_out": False, "oom": False,
                     "spawn_error": str(e)})
        return
    STATE["proc"], STATE["killed"] = proc, False
    outs = [threading.Event(), threading.Event()]
    threading.Thread(target=pump, args=(proc.stdout, b"O", outs[0]), daemon=True).start()
    threading.Thread(target=pump, args=(proc.stderr, b"E", outs[1]), daemon=True).start()
    data = base64.b64decode(req.get("stdin") or "")

    def feed():
        try:
            if data:
                proc.stdin.write(data)
            proc.stdin.close()
        except OSError:
            pass

    threading.Thread(target=feed, daemon=True).start()
    timed_out = False
    try:
        proc.wait(timeout=req.get("timeout", 30.0))
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_all()
        proc.wait()
    # Background children that still hold the pipes get a moment, then are killed with the rest.
    outs[0].wait(0.2)
    outs[1].wait(0.2)
    kill_all()
    outs[0].wait(1.0)
    outs[1].wait(1.0)
    close_tunnels()
    after = oom_kills()
    code = proc.returncode
    reply(b"X", {"code": code if code >= 0 else None,
                 "signal": -code if code < 0 else None,
                 "timed_out": timed_out,
                 "killed": STATE["killed"],
                 "oom": before is not None and after is not None and after > before,
                 "ms": int((time.monotonic() - started) * 1000)})
    STATE["proc"] = None


# Landlock rights (linux/landlock.h): bit 0 EXECUTE, 1 WRITE_FILE, 2 READ_FILE, 3 READ_DIR,
# 4..12 the rest of ABI 1, 13 REFER (ABI 2), 14 TRUNCATE (ABI 3), 15 IOCTL_DEV (ABI 5).
FILE_RIGHTS = 1 << 0 | 1 << 1 | 1 << 2 | 1 << 14 | 1 << 15


def landlock(writable):
    """Confines this process and its children: read and execute everywhere, write only beneath
    `writable` and to the usual device files. Defence in depth under the namespaces; a kernel or
    seccomp profile without Landlock leaves it off and says so."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        sys_call = libc.syscall
        sys_call.restype = ctypes.c_long
        abi = sys_call(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
        if abi < 1:
            return "unavailable"
        handled = (1 << 13) - 1
        for version, bit in ((2, 13), (3, 14), (5, 15)):
            if abi >= version:
                handled |= 1 << bit

        class Ruleset(ctypes.Structure):
            _fields_ = [("fs", ctypes.c_uint64)]

        class Beneath(ctypes.Structure):
            _pack_ = 1
            _fields_ = [("allowed", ctypes.c_uint64), ("fd", ctypes.c_int32)]

        ruleset = Ruleset(handled)
        rfd = sys_call(444, ctypes.byref(ruleset), ctypes.c_size_t(ctypes.sizeof(ruleset)),
                       ctypes.c_uint32(0))
        if rfd < 0:
            return "unavailable"

        def allow(path, access):
            try:
                pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                return
            try:
                if not os.path.isdir(path):
                    access &= FILE_RIGHTS
                rule = Beneath(access & handled, pfd)
                if sys_call(445, rfd, 1, ctypes.byref(rule), 0) != 0:
                    raise OSError(ctypes.get_errno(), "landlock_add_rule " + path)
            finally:
                os.close(pfd)

        allow("/", 1 << 0 | 1 << 2 | 1 << 3)
        for path in writable:
            allow(path, handled)
        for dev in ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"):
            allow(dev, FILE_RIGHTS)
        libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS, needed to restrict oneself
        if sys_call(446, rfd, 0) != 0:
            return "refused"
        os.close(rfd)
        return "abi %d" % abi
    except Exception as e:  # noqa: BLE001 - no Landlock is reported, never fatal
        return "error: %s" % e


def undumpable():
    # PR_SET_DUMPABLE 0: code of the same uid can neither ptrace the runner nor open its
    # /proc/PID/fd (its stdout, where it could forge frames); a child becomes dumpable at exec.
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) == 0
    except Exception:  # noqa: BLE001 - reported in the ready frame
        return False


# Moving a file in or out as the code's user, so the workspace gets no file of the runner's.
PUT = ("import os, sys\np = sys.argv[1]\nos.makedirs(os.path.dirname(p) or '.', exist_ok=True)\n"
       "open(p, 'wb').write(sys.stdin.buffer.read())")
GET = "import sys\nsys.stdout.buffer.write(open(sys.argv[1], 'rb').read(int(sys.stdin.read())))"


def as_code_user(script, path, data):
    done = subprocess.run([sys.executable, "-c", script, path], input=data, capture_output=True,
                          env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, timeout=60, **AS_CODE)
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        raise OSError(lines[-1] if lines else "exit %d" % done.returncode)
    return done.stdout


def main():
    guarded = undumpable()
    proxy = egress()
    confined = landlock(["/workspace", "/tmp", "/dev/shm"])
    frame(b"R", json.dumps({"pid": os.getpid(), "uid": os.getuid(), "egress": proxy,
                            "landlock": confined, "undumpable": guarded,
                            "code": confinement_report()}).encode())
    job = None
    for line in sys.stdin.buffer:
        try:
            req = json.loads(line)
            op = req.get("op")
            if op == "exec":
                if job is not None:
                    # The host sends a job only after the last one's exit frame; let its thread end.
                    job.join(5.0)
                    if job.is_alive():
                        reply(b"!", {"message": "a job is already running"})
                        continue
                job = threading.Thread(target=run, args=(req,), daemon=True)
                job.start()
            elif op == "net":
                to_code(req, base64.b64decode(req.get("data") or ""))
            elif op == "net_end":
                to_code(req, None)
            elif op == "kill":
                STATE["killed"] = True
                kill_all()
                reply(b"A", {"op": "kill"})
            elif op == "put":
                path = req["path"]
                data = base64.b64decode(req["data"])
                if CODE_USER:
                    as_code_user(PUT, path, data)
                else:
                    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
                    with open(path, "wb") as f:
                        f.write(data)
                reply(b"A", {"op": "put", "path": path})
            elif op == "get":
                most = req.get("max", 1 << 24) + 1
                if CODE_USER:
                    frame(b"F", as_code_user(GET, req["path"], str(most).encode())[:most])
                else:
                    with open(req["path"], "rb") as f:
                        frame(b"F", f.read(most))
            else:
                reply(b"!", {"message": "unknown op %r" % op})
        except Exception as e:  # noqa: BLE001 - every failure goes back to the host
            reply(b"!", {"message": "%s: %s" % (type(e).__name__, e)})


main()
