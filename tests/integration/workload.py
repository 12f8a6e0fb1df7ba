"""tests/integration/workload.py - a deterministic Python workload for python.sh.

Dicts, lists, sets, strings, bytes/bytearrays, json round trips, sorting, class
instances, garbage cycles and threads: CPython's own allocator (pymalloc) sits on
top of malloc for arenas and every object above 512 bytes, so all of this reaches
malloc/realloc/free.  Output depends only on the computation.  With LA_PY_CHECK=1
(set by python.sh under liballoc) it ends by calling liballoc_check_heap through
ctypes and reports on stderr.
"""
import gc
import hashlib
import json
import os
import sys
import threading


def words(seed, n):
    x = seed
    out = []
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out.append("w%x" % (x % 5003))
    return out


def dict_work(seed):
    counts = {}
    for w in words(seed, 60000):
        counts[w] = counts.get(w, 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    nested = {k: {"n": v, "s": k * (v % 7), "l": list(range(v % 50))} for k, v in counts.items()}
    blob = json.dumps(nested, sort_keys=True)
    back = json.loads(blob)
    assert back == nested
    return len(counts), top, hashlib.sha256(blob.encode()).hexdigest()[:16]


class Node:
    def __init__(self, v):
        self.v = v
        self.peer = None
        self.items = [v] * (v % 10)


def cycles():
    made = 0
    for i in range(20000):
        a, b = Node(i), Node(i + 1)
        a.peer, b.peer = b, a
        made += len(a.items)
    return made, gc.collect() >= 0


def strings():
    s = ""
    parts = []
    for i in range(20000):
        s += chr(97 + i % 26)
        if i % 1000 == 999:
            parts.append(s)
            s = s[::-1]
    big = "|".join(parts) * 20
    ba = bytearray()
    for i in range(200000):
        ba.append(i & 0xFF)
    huge = bytes(8 << 20)
    return len(big), hashlib.md5(big.encode()).hexdigest()[:12], sum(ba) & 0xFFFFFF, len(huge)


def thread_work(idx, results):
    local = []
    for i in range(3000):
        local.append({"i": i, "s": str(i) * (i % 17), "t": tuple(range(i % 9))})
    acc = 0
    for d in local:
        acc += len(d["s"]) + sum(d["t"])
    results[idx] = (idx, acc, dict_work(idx + 1)[0])


def main():
    print("dicts", dict_work(7))
    print("cycles", cycles())
    print("strings", strings())
    results = [None] * 8
    threads = [threading.Thread(target=thread_work, args=(i, results)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        print("thread", r)
    lst = [words(i, 50) for i in range(400)]
    lst.sort()
    print("lists", len(lst), lst[0][:3], lst[-1][:3])
    print("sets", len(set(w for row in lst for w in row)))
    if os.environ.get("LA_PY_CHECK") == "1":
        import ctypes
        lib = ctypes.CDLL(None)
        try:
            check = lib.liballoc_check_heap
        except AttributeError:
            sys.stderr.write("workload.py: liballoc_check_heap not found: not running on liballoc\n")
            sys.exit(1)
        if check() != 0:
            sys.stderr.write("workload.py: liballoc_check_heap failed\n")
            sys.exit(1)
        sys.stderr.write("workload.py: liballoc heap consistent after the workload\n")


main()
