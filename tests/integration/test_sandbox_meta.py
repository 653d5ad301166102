"""File metadata (SPEC 3.2): chmod, utime*, setxattr and removexattr in
all their forms succeed only on files inside write grants, in every
network mode, decided and performed by the supervisor on the file it
resolved (no race with a symlink swapped meanwhile).

Real programs (chmod, touch, setfattr) and Python's os.* calls run in the
sandbox; every denial is EACCES and leaves the file as it was (mode,
mtime, extended attributes).
"""

import errno
import json
import os
import stat
import subprocess

import pytest

from run_fixtures import box, try_bin  # noqa: F401

# Every network mode: the mediator answers metadata calls in each.
MODES = {
	"allow": [],
	"blocked": ["--block-net"],
	"proxy": ["--allow-domain", "example.test"],
}

# Runs in the sandbox: argv[1] is a JSON list of [name, op, args...];
# prints {name: 0 or errno}.
PY = r"""
import json, os, sys
res = {}
for name, op, *a in json.loads(sys.argv[1]):
	try:
		if op == "chmod":
			os.chmod(a[0], a[1])
		elif op == "lchmod_at":
			import ctypes
			libc = ctypes.CDLL(None, use_errno=True)
			# fchmodat2(AT_FDCWD, path, mode, AT_SYMLINK_NOFOLLOW)
			if libc.syscall(452, -100, a[0].encode(), a[1],
			    0x100) == -1:
				raise OSError(ctypes.get_errno(), "fchmodat2")
		elif op == "utime":
			os.utime(a[0], (a[1], a[1]))
		elif op == "lutime":
			os.utime(a[0], (a[1], a[1]), follow_symlinks=False)
		elif op == "setxattr":
			os.setxattr(a[0], a[1], a[2].encode())
		elif op == "removexattr":
			os.removexattr(a[0], a[1])
		elif op == "fchmod_ro":
			fd = os.open(a[0], os.O_RDONLY)
			try:
				os.chmod(fd, a[1])
			finally:
				os.close(fd)
		elif op == "fchmod_rw":
			fd = os.open(a[0], os.O_RDWR)
			try:
				os.chmod(fd, a[1])
			finally:
				os.close(fd)
		elif op == "futime_ro":
			fd = os.open(a[0], os.O_RDONLY)
			try:
				os.utime(fd, (a[1], a[1]))
			finally:
				os.close(fd)
		elif op == "fsetxattr_ro":
			fd = os.open(a[0], os.O_RDONLY)
			try:
				os.setxattr(fd, a[1], a[2].encode())
			finally:
				os.close(fd)
		elif op == "proc_self_fd_chmod":
			fd = os.open(a[0], os.O_RDONLY)
			try:
				os.chmod("/proc/self/fd/%d" % fd, a[1])
			finally:
				os.close(fd)
		elif op == "syscall":
			import ctypes
			libc = ctypes.CDLL(None, use_errno=True)
			if libc.syscall(a[0], -100, b"x", 0, b"user.k", 0, 0) == -1:
				raise OSError(ctypes.get_errno(), "syscall")
		res[name] = 0
	except OSError as e:
		res[name] = e.errno
print(json.dumps(res))
"""


def snapshot(path):
	st = os.lstat(path)
	try:
		xattrs = {n: os.getxattr(path, n, follow_symlinks=False)
		    for n in os.listxattr(path, follow_symlinks=False)}
	except OSError:
		xattrs = None
	return (stat.S_IMODE(st.st_mode), st.st_mtime_ns, xattrs)


def run_ops(box, mode, ops, extra=()):
	res = box.run("run", *MODES[mode], "--allow", box.granted,
	    *extra, "--", "/usr/bin/python3", "-c", PY, json.dumps(ops))
	assert res.rc == 0, res
	return json.loads(res.out.strip().splitlines()[-1])


def setup_files(box):
	"""granted/f (0644, xattr user.k=v), outside/f (same), and a fake
	~/.ssh/id_rsa (0600)."""
	files = {}
	for d in (box.granted, box.outside):
		p = box.write(os.path.join(d, "f"), "data\n")
		os.setxattr(p, "user.k", b"v")
		os.utime(p, (1000000000, 1000000000))
		files[d] = p
	key = box.write(os.path.join(box.home, ".ssh", "id_rsa"), "KEY\n",
	    mode=0o600)
	return files[box.granted], files[box.outside], key


@pytest.mark.parametrize("mode", sorted(MODES))
def test_metadata_inside_a_write_grant_works(box, mode):
	g, _, _ = setup_files(box)
	ops = [
		["chmod", "chmod", g, 0o750],
		["utime", "utime", g, 1234567890],
		["setxattr", "setxattr", g, "user.new", "x"],
		["removexattr", "removexattr", g, "user.k"],
		["proc_self_fd", "proc_self_fd_chmod", g, 0o600],
		["fchmod_rw", "fchmod_rw", g, 0o640],
	]
	assert run_ops(box, mode, ops) == {o[0]: 0 for o in ops}
	st = os.stat(g)
	assert stat.S_IMODE(st.st_mode) == 0o640
	assert st.st_mtime == 1234567890
	assert os.listxattr(g) == ["user.new"]


@pytest.mark.parametrize("mode", sorted(MODES))
def test_metadata_outside_write_grants_is_eacces_and_unchanged(box, mode):
	_, o, key = setup_files(box)
	before = {p: snapshot(p) for p in (o, key)}
	ops = []
	for p in (o, key):
		ops += [
			["chmod " + p, "chmod", p, 0o4777],
			["utime " + p, "utime", p, 1234567890],
			["setxattr " + p, "setxattr", p, "user.evil", "x"],
			["removexattr " + p, "removexattr", p, "user.k"],
		]
	# The outside file readable (an fd the child may hold), not
	# writable: fchmod/futimens/fsetxattr on a read-only fd of it.
	ops += [
		["fchmod_ro", "fchmod_ro", o, 0o777],
		["futime_ro", "futime_ro", o, 1234567890],
		["fsetxattr_ro", "fsetxattr_ro", o, "user.evil", "x"],
		["proc_self_fd", "proc_self_fd_chmod", o, 0o777],
	]
	got = run_ops(box, mode, ops, ("--read-file", o))
	assert got == {op[0]: errno.EACCES for op in ops}
	for p in (o, key):
		assert snapshot(p) == before[p], p


@pytest.mark.parametrize("mode", sorted(MODES))
def test_metadata_programs_get_eacces_outside(box, mode):
	_, o, key = setup_files(box)
	before = {p: snapshot(p) for p in (o, key)}
	script = ("chmod 4777 %s; echo chmod=$?; touch -d 2001-01-01 %s; "
	    "echo touch=$?; setfattr -n user.evil -v 1 %s; echo setfattr=$?; "
	    "chmod 600 %s; echo key=$?" % (o, o, o, key))
	res = box.run("run", *MODES[mode], "--allow", box.granted, "--",
	    "sh", "-c", script)
	assert res.rc == 0, res
	for k in ("chmod", "touch", "setfattr", "key"):
		assert "%s=1" % k in res.out, res
	assert res.err.count("Permission denied") == 4, res
	for p in (o, key):
		assert snapshot(p) == before[p], p


def test_metadata_programs_work_inside(box):
	g, _, _ = setup_files(box)
	script = ("chmod 700 %s && touch -d 2001-01-01T00:00:00Z %s && "
	    "setfattr -n user.ok -v 1 %s && setfattr -x user.k %s"
	    % (g, g, g, g))
	res = box.run("run", "--block-net", "--allow", box.granted, "--",
	    "sh", "-c", script)
	assert res.rc == 0, res
	st = os.stat(g)
	assert stat.S_IMODE(st.st_mode) == 0o700
	assert st.st_mtime == 978307200
	assert os.listxattr(g) == ["user.ok"]


def test_metadata_refuses_setuid_programs_inside_grants(box):
	g, _, _ = setup_files(box)
	ops = [["suid", "chmod", g, 0o4755], ["sgid", "chmod", g, 0o2755],
	    ["plain", "chmod", g, 0o755]]
	got = run_ops(box, "blocked", ops)
	assert got == {"suid": errno.EPERM, "sgid": errno.EPERM, "plain": 0}
	assert stat.S_IMODE(os.stat(g).st_mode) == 0o755


def test_metadata_on_a_symlink_acts_on_the_link_not_its_target(box):
	_, o, _ = setup_files(box)
	link = os.path.join(box.granted, "ln")
	os.symlink(o, link)
	before = snapshot(o)
	ops = [["follow", "chmod", link, 0o777],
	    ["lutime", "lutime", link, 1234567890],
	    ["lchmod", "lchmod_at", link, 0o777]]
	got = run_ops(box, "blocked", ops)
	# Through the link: the target is outside.  On the link itself:
	# inside, times fine, a symlink's mode cannot change.
	assert got == {"follow": errno.EACCES, "lutime": 0,
	    "lchmod": errno.EOPNOTSUPP}
	assert os.lstat(link).st_mtime == 1234567890
	assert snapshot(o) == before


def test_metadata_syscalls_with_a_struct_argument_are_absent(box):
	g, _, _ = setup_files(box)
	# setxattrat (463), removexattrat (466): as on kernels before 6.13.
	got = run_ops(box, "blocked", [["setxattrat", "syscall", 463],
	    ["removexattrat", "syscall", 466]])
	assert got == {"setxattrat": errno.ENOSYS,
	    "removexattrat": errno.ENOSYS}


def test_metadata_denial_is_audited(box):
	_, o, _ = setup_files(box)
	log = box.path("audit.jsonl")
	res = box.run("run", "--block-net", "--audit-log", log, "--",
	    "/usr/bin/python3", "-c", PY, json.dumps([["c", "chmod", o, 0o777]]))
	assert res.rc == 0, res
	assert json.loads(res.out.strip().splitlines()[-1]) == {
	    "c": errno.EACCES}
	recs = [json.loads(l) for l in open(log)]
	# chmod(2) or fchmodat(2), as libc chooses.
	hits = [r for r in recs if r.get("host") in ("chmod:" + o,
	    "fchmodat:" + o)]
	assert hits and hits[0]["decision"] == "deny", recs
	assert hits[0]["reason"] == "metadata change outside write grants"


# A thread flips a symlink between a granted file and an outside one while
# others chmod, utime and setxattr through it; the outside file never
# changes.
RACE = r"""
import os, sys, threading
link, good, bad, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
stop = False
def flip():
	i = 0
	while not stop:
		tmp = link + ".%d" % (i % 2)
		try:
			os.unlink(tmp)
		except FileNotFoundError:
			pass
		os.symlink(good if i % 2 else bad, tmp)
		os.replace(tmp, link)
		i += 1
t = threading.Thread(target=flip)
t.start()
ok = denied = 0
for i in range(n):
	for f in (lambda: os.chmod(link, 0o777),
	    lambda: os.utime(link, (1234567890, 1234567890)),
	    lambda: os.setxattr(link, "user.evil", b"x")):
		try:
			f()
			ok += 1
		except OSError as e:
			assert e.errno in (13, 2), e
			denied += 1
stop = True
t.join()
print(ok, denied)
"""


def test_metadata_symlink_race_never_changes_the_outside_file(box):
	g, o, _ = setup_files(box)
	before = snapshot(o)
	link = os.path.join(box.granted, "race")
	os.symlink(g, link)
	res = box.run("run", "--block-net", "--allow", box.granted, "--",
	    "/usr/bin/python3", "-c", RACE, link, g, o, "1500", timeout=60)
	assert res.rc == 0, res
	ok, denied = map(int, res.out.split())
	# Both targets were hit: the race really ran.
	assert ok > 0 and denied > 0, res.out
	assert snapshot(o) == before
	assert stat.S_IMODE(os.stat(g).st_mode) == 0o777


SETID = r"""
import json, os, sys
d = sys.argv[1]
r = {}
def t(n, f):
	try:
		f()
		r[n] = 0
	except OSError as e:
		r[n] = e.errno
def mk(name, mode, flags=os.O_CREAT | os.O_WRONLY, path=None):
	os.close(os.open(path or os.path.join(d, name), flags, mode))
t("suid", lambda: mk("a", 0o4755))
t("sgid", lambda: mk("b", 0o2755))
t("sgid_no_exec", lambda: mk("c", 0o2644))
t("plain", lambda: mk("e", 0o755))
t("tmpfile", lambda: mk("", 0o4755, os.O_TMPFILE | os.O_WRONLY, d))
t("mknod", lambda: os.mknod(os.path.join(d, "f"), 0o104755))
t("mkdir", lambda: os.mkdir(os.path.join(d, "g"), 0o2775))
print(json.dumps(r))
"""


@pytest.mark.parametrize("net", [[], ["--block-net"]],
    ids=["allow", "blocked"])
def test_creating_setid_programs_is_eperm(box, net):
	res = box.run("run", *net, "--allow", box.granted, "--",
	    "/usr/bin/python3", "-c", SETID, box.granted)
	assert res.rc == 0, res
	got = json.loads(res.out.strip().splitlines()[-1])
	assert got == {"suid": errno.EPERM, "sgid": errno.EPERM,
	    "sgid_no_exec": 0, "plain": 0, "tmpfile": errno.EPERM,
	    "mknod": errno.EPERM, "mkdir": 0}
	for n in ("a", "b", "f"):
		assert not os.path.exists(os.path.join(box.granted, n))
	for n in os.listdir(box.granted):
		m = os.lstat(os.path.join(box.granted, n)).st_mode
		assert not m & stat.S_ISUID, n


RELATIVE = r"""
import json, os, sys
res = {}
for name, d in (("inside", sys.argv[1]), ("outside", sys.argv[2])):
	os.chdir(d)
	try:
		os.chmod("f", 0o700)
		os.utime("f", (1234567890, 1234567890))
		res[name] = 0
	except OSError as e:
		res[name] = e.errno
print(json.dumps(res))
"""


def test_metadata_relative_paths_follow_the_child_cwd(box):
	g, o, _ = setup_files(box)
	before = snapshot(o)
	res = box.run("run", "--block-net", "--allow", box.granted, "--read",
	    box.outside, "--", "/usr/bin/python3", "-c", RELATIVE, box.granted,
	    box.outside)
	assert res.rc == 0, res
	assert json.loads(res.out.strip().splitlines()[-1]) == {"inside": 0,
	    "outside": errno.EACCES}
	assert stat.S_IMODE(os.stat(g).st_mode) == 0o700
	assert snapshot(o) == before


# A thread dup2()s, in turn, a read-only descriptor of an outside file and
# a writable one of a granted file onto one descriptor number while the
# main thread fchmod/futimens/fsetxattr's that number: the supervisor
# decides and acts on the one descriptor it took, so the outside file
# never changes (each call lands on one file or the other, whole).
FDRACE = r"""
import os, sys, threading
good, bad, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
g = os.open(good, os.O_RDWR)
b = os.open(bad, os.O_RDONLY)
slot = os.dup(g)
stop = False
def flip():
	i = 0
	while not stop:
		os.dup2(b if i % 2 else g, slot)
		i += 1
t = threading.Thread(target=flip)
t.start()
ok = denied = 0
for i in range(n):
	for f in (lambda: os.chmod(slot, 0o777),
	    lambda: os.utime(slot, (1234567890, 1234567890)),
	    lambda: os.setxattr(slot, "user.evil", b"x")):
		try:
			f()
			ok += 1
		except OSError as e:
			assert e.errno == 13, e
			denied += 1
stop = True
t.join()
print(ok, denied)
"""


def test_metadata_fd_race_never_changes_the_outside_file(box):
	g, o, _ = setup_files(box)
	before = snapshot(o)
	res = box.run("run", "--block-net", "--allow", box.granted,
	    "--read-file", o, "--", "/usr/bin/python3", "-c", FDRACE, g, o,
	    "1500", timeout=60)
	assert res.rc == 0, res
	ok, denied = map(int, res.out.split())
	# Both descriptors were hit: the race really ran.
	assert ok > 0 and denied > 0, res.out
	assert snapshot(o) == before
	assert stat.S_IMODE(os.stat(g).st_mode) == 0o777


# setxattr's name and value read from the edges of mapped memory, bad
# sizes and pointers, and the NULL-path utimensat on an O_PATH descriptor:
# prints {case: 0 or errno} and the xattrs set, for the same script run
# outside the sandbox (the kernel's answers) and inside (the supervisor's).
ARGS = r"""
import ctypes, json, mmap, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
    ctypes.c_int, ctypes.c_int, ctypes.c_long]
path = sys.argv[1].encode()
fd = os.open(path, os.O_RDWR)
page = mmap.PAGESIZE
# Two readable pages, then one that is not.
base = libc.mmap(None, 3 * page, 3, 0x22, -1, 0)
assert base not in (None, ctypes.c_void_p(-1).value)
assert libc.mprotect(ctypes.c_void_p(base + 2 * page), page, 0) == 0
end = base + 2 * page
def put(addr, data):
	ctypes.memmove(addr, data, len(data))
	return addr
res = {}
def t(case, rc):
	res[case] = 0 if rc == 0 else ctypes.get_errno()
def fset(name, value, size):
	return libc.fsetxattr(fd, ctypes.c_void_p(name), ctypes.c_void_p(value),
	    ctypes.c_size_t(size), 0)
def pset(name, value, size):
	return libc.setxattr(path, ctypes.c_void_p(name), ctypes.c_void_p(value),
	    ctypes.c_size_t(size), 0)
val = put(base + 64, b"value-1")
for how, call in (("f", fset), ("p", pset)):
	# The name crosses from the first page into the second.
	t(how + "cross", call(put(base + page - 4, b"user.c" + how.encode() +
	    b"\0"), val, 7))
	# The name's NUL is the last readable byte.
	nm = b"user.e" + how.encode() + b"\0"
	t(how + "edge", call(put(end - len(nm), nm), val, 7))
	# The name runs into the unreadable page.
	t(how + "noterm", call(put(end - 4, b"user"), val, 7))
	t(how + "empty", call(put(base + 128, b"\0"), val, 7))
	t(how + "long", call(put(base + 256, b"user." + b"x" * 300 + b"\0"),
	    val, 7))
	nm = put(base + 1024, b"user.v" + how.encode() + b"\0")
	t(how + "nullval", call(nm, None, 7))
	t(how + "badval", call(nm, end - 3, 7))
	t(how + "big", call(nm, val, 65537))
	t(how + "empty_ok", call(put(base + 1100, b"user.z" + how.encode() +
	    b"\0"), None, 0))
	# The value ends at the last readable byte.
	t(how + "valedge", call(put(base + 1200, b"user.w" + how.encode() +
	    b"\0"), put(end - 5, b"tail5"), 5))
op = os.open(path, os.O_PATH)
# glibc's utimensat refuses a NULL path itself: the raw call.
nr = {"x86_64": 280, "aarch64": 88}[os.uname().machine]
t("utimensat_opath_null", libc.syscall(nr, op, None, None, 0))
t("utimensat_opath_empty", libc.utimensat(op, b"", None, 0x1000))
x = {n: os.getxattr(path, n).decode() for n in sorted(os.listxattr(path))}
print(json.dumps([res, x]))
"""


def test_metadata_arguments_are_read_as_the_kernel_reads_them(box):
	files = []
	for d in (box.outside, box.granted):
		files.append(box.write(os.path.join(d, "args"), "data\n"))
	want = subprocess.run(["/usr/bin/python3", "-c", ARGS, files[0]],
	    capture_output=True, text=True, timeout=15)
	assert want.returncode == 0, want
	res = box.run("run", "--block-net", "--allow", box.granted, "--",
	    "/usr/bin/python3", "-c", ARGS, files[1])
	assert res.rc == 0, res
	got = json.loads(res.out.strip().splitlines()[-1])
	assert got == json.loads(want.stdout.strip().splitlines()[-1])
	# What the kernel says, spelled out (the comparison alone would
	# pass if neither side set anything).
	codes, xattrs = got
	for how in ("f", "p"):
		assert codes[how + "cross"] == 0
		assert codes[how + "edge"] == 0
		assert codes[how + "noterm"] == errno.EFAULT
		assert codes[how + "empty"] == errno.ERANGE
		assert codes[how + "long"] == errno.ERANGE
		assert codes[how + "nullval"] == errno.EFAULT
		assert codes[how + "badval"] == errno.EFAULT
		assert codes[how + "big"] == errno.E2BIG
		assert xattrs["user.c" + how] == "value-1"
		assert xattrs["user.e" + how] == "value-1"
		assert xattrs["user.z" + how] == ""
		assert xattrs["user.w" + how] == "tail5"
	assert codes["utimensat_opath_null"] == errno.EBADF
	assert codes["utimensat_opath_empty"] == 0
