"""make install / make uninstall with PREFIX and DESTDIR (SPEC 10), and the
example profiles that are installed."""

import json
import os
import subprocess

import jsonschema
import pytest

from conftest import REPO, assert_no_sanitizer_report, start_proxy_raw

EXAMPLES = sorted(f for f in os.listdir(os.path.join(REPO, "examples"))
    if f.endswith(".json"))
GUIDE = sorted(f for f in os.listdir(os.path.join(REPO, "docs", "guide"))
    if f.endswith(".md"))
USERDOCS = sorted(f for f in os.listdir(os.path.join(REPO, "docs"))
    if f.endswith(".md") and f != "HACKING.md")


def make(*args):
	p = subprocess.run(["make", "-s", "-C", REPO] + list(args),
	    capture_output=True, text=True, timeout=600)
	assert p.returncode == 0, p.stdout + p.stderr
	return p


def tree(root):
	out = set()
	for d, dirs, files in os.walk(root):
		for f in files + [x for x in dirs if os.path.islink(
		    os.path.join(d, x))]:
			out.add(os.path.relpath(os.path.join(d, f), root))
	return out


def expected(prefix):
	p = prefix.lstrip("/")
	files = {
	    p + "/bin/keyhole",
	    p + "/share/man/man1/keyhole.1",
	    p + "/share/man/man5/keyhole-profile.5",
	    p + "/share/bash-completion/completions/keyhole",
	    p + "/share/zsh/site-functions/_keyhole",
	    p + "/share/fish/vendor_completions.d/keyhole.fish",
	    p + "/share/doc/keyhole/README.md",
	}
	files |= {p + "/share/doc/keyhole/" + d for d in USERDOCS}
	files |= {p + "/share/keyhole/examples/" + e for e in EXAMPLES}
	files |= {p + "/share/doc/keyhole/guide/" + g for g in GUIDE}
	# On x86_64 the release build loads OpenSSL from beside it or from
	# ../lib/keyhole (docs/HACKING.md, "OpenSSL on first use").
	if os.path.exists(os.path.join(REPO, "build", "keyhole-tls.so")):
		files.add(p + "/lib/keyhole/keyhole-tls.so")
	return files


# /usr/local last: the build tree is left with the default man pages.
@pytest.mark.parametrize("prefix", ["/opt/kh", "/usr/local"])
def test_install_tree_then_uninstall_leaves_nothing(tmp_path, prefix):
	dest = tmp_path / "dest"
	make("install", "DESTDIR=%s" % dest, "PREFIX=%s" % prefix)
	got = tree(dest)
	assert got == expected(prefix), sorted(got ^ expected(prefix))
	binary = dest / prefix.lstrip("/") / "bin" / "keyhole"
	assert os.stat(binary).st_mode & 0o777 == 0o755
	for f in got - {os.path.relpath(binary, dest)}:
		assert os.stat(dest / f).st_mode & 0o777 == 0o644, f
	out = subprocess.run([str(binary), "--version"], capture_output=True,
	    text=True).stdout
	assert out.startswith("keyhole ")
	# The installed binary finds its OpenSSL where install put it.
	out = subprocess.run([str(binary), "version", "-v"],
	    capture_output=True, text=True).stdout
	assert "openssl: OpenSSL 3" in out, out
	# The man page points at the examples where they were installed.
	man = (dest / prefix.lstrip("/") / "share/man/man1/keyhole.1"
	    ).read_text()
	assert prefix + "/share/keyhole/examples" in man
	make("uninstall", "DESTDIR=%s" % dest, "PREFIX=%s" % prefix)
	assert tree(dest) == set(), sorted(tree(dest))
	left = [d for d, _, _ in os.walk(dest) if "keyhole" in
	    os.path.basename(d)]
	assert left == [], left


def test_examples_are_valid_profiles(keyhole, tmp_path):
	with open(os.path.join(REPO, "data", "profile-schema.json")) as f:
		v = jsonschema.Draft202012Validator(json.load(f))
	assert len(EXAMPLES) >= 2
	home = tmp_path / "home"
	home.mkdir()
	for e in EXAMPLES:
		path = os.path.join(REPO, "examples", e)
		rc, out, err = start_proxy_raw(keyhole, ["profile", "validate",
		    path], timeout=20, env={"HOME": str(home)})
		assert_no_sanitizer_report(err)
		assert rc == 0 and out == "%s: valid\n" % path, (e, rc, err)
		with open(path) as f:
			doc = json.load(f)
		assert [x.message for x in v.iter_errors(doc)] == [], e
		# The name in meta is the file's, as `profile list` shows it.
		assert doc["meta"]["name"] + ".json" == e
