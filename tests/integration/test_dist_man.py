"""keyhole(1) and keyhole-profile(5) (SPEC 10): generated at build (make
man), rendered without a groff warning, and naming exactly the options
--help names, for every command, and every profile key."""

import json
import os
import re
import subprocess

import pytest

from conftest import REPO
from dist_help import commands, per_command

MAN1 = os.path.join(REPO, "build", "man", "keyhole.1")
MAN5 = os.path.join(REPO, "build", "man", "keyhole-profile.5")


@pytest.fixture(scope="module")
def pages():
	for p in (MAN1, MAN5):
		if not os.path.isfile(p):
			pytest.fail("%s missing: run `make man`" % p, pytrace=False)
	return MAN1, MAN5


def render(page):
	# No hyphenation, long lines: words stay whole.
	p = subprocess.run(["groff", "-man", "-rHY=0", "-rLL=250n", "-Tutf8",
	    "-P", "-cbou", page], capture_output=True, text=True, timeout=30)
	assert p.returncode == 0, p.stderr
	return p.stdout


def section(text, name):
	m = re.search(r"^%s\n(.*?)(?=^[A-Z][A-Z -]+\n)" % re.escape(name),
	    text, re.S | re.M)
	assert m, "no section %s" % name
	return m.group(1)


def test_man_pages_render_without_warnings(pages):
	for page in pages:
		p = subprocess.run(["groff", "-man", "-ww", "-z", page],
		    capture_output=True, text=True, timeout=30)
		assert p.returncode == 0 and p.stderr == "", (page, p.stderr)


def man_options(text):
	"""{spelling: set of commands} from the OPTIONS section."""
	res = {}
	opts = section(text, "OPTIONS")
	for m in re.finditer(r"^       (-[^\n]*)\n((?:           [^\n]*\n)+)",
	    opts, re.M):
		head, body = m.group(1), " ".join(m.group(2).split())
		names = re.findall(r"(?<![\w-])(--?[\w][\w-]*)", head)
		# Drop the value placeholder (upper case) if any.
		names = [n for n in names if not n[1:].isupper() or
		    len(n) == 2]
		also = re.search(r"Also spelled ([^.]*)\.", body)
		if also:
			names += [a.strip() for a in also.group(1).split(",")]
		cm = re.search(r"Commands: (.*)\.$", body)
		assert cm, body
		cmds = set()
		for c in cm.group(1).split(", "):
			cmds.add("" if c == "before the command" else c)
		for n in names:
			res[n] = cmds
	return res


def test_man_option_list_equals_help_both_ways(keyhole, pages):
	man = man_options(render(MAN1))
	helps = per_command(keyhole)
	from_help = {}
	for c, spell in helps.items():
		for s in spell:
			from_help.setdefault(s, set()).add(c)
	missing = set(from_help) - set(man)
	extra = set(man) - set(from_help)
	assert not missing, "in --help, not in keyhole(1): %s" % sorted(missing)
	assert not extra, "in keyhole(1), not in --help: %s" % sorted(extra)
	for s in from_help:
		assert man[s] == from_help[s], (s, man[s], from_help[s])


def test_man_names_every_command_and_exit_status(keyhole, pages):
	text = render(MAN1)
	syn = section(text, "SYNOPSIS")
	cmds = section(text, "COMMANDS")
	for c in commands(keyhole):
		assert "keyhole " + c in syn, c
		assert re.search(r"^       %s\b" % c, cmds, re.M), c
	st = section(text, "EXIT STATUS")
	for code in ("128+N", "126", "127", "1", "2", "0"):
		assert re.search(r"^       %s$" % re.escape(code), st, re.M), code
	for sec in ("ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"):
		assert re.search(r"^%s$" % sec, text, re.M), sec


def test_man_environment_lists_every_variable_help_lists(keyhole, pages):
	env = section(render(MAN1), "ENVIRONMENT")
	out = subprocess.run([keyhole, "help", "run"], capture_output=True,
	    text=True).stdout
	names = re.findall(r"^  (KEYHOLE_\w+)", out, re.M)
	assert len(names) >= 5
	for n in names:
		assert n in env and "NONO_" + n[8:] in env, n


def schema_keys(node, out):
	if isinstance(node, dict):
		for k, v in node.get("properties", {}).items():
			if k != "$schema":
				out.add(k)
		for v in node.values():
			schema_keys(v, out)
	elif isinstance(node, list):
		for v in node:
			schema_keys(v, out)
	return out


def test_profile_page_and_reference_name_every_key(pages):
	with open(os.path.join(REPO, "data", "profile-schema.json")) as f:
		keys = schema_keys(json.load(f), set())
	assert len(keys) > 60
	man = render(MAN5)
	with open(os.path.join(REPO, "docs", "profile-format.md")) as f:
		md = f.read()
	for k in keys:
		assert re.search(r"(?<![\w])%s(?![\w])" % re.escape(k), man), k
		assert "`%s`" % k in md, k


def test_profile_page_has_lookup_merge_and_examples(pages):
	text = render(MAN5)
	for sec in ("NAME", "USING A PROFILE", "MERGING", "EXAMPLES"):
		assert re.search(r"^%s$" % sec, text, re.M), sec
	assert "XDG_CONFIG_HOME/keyhole/profiles" in text
	assert ".config/nono/profiles" in text
