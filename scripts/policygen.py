#!/usr/bin/env python3
# Compile data/policy.json into C: policygen.py data/policy.json > out.c
#
# The policy groups become constant struct profile_group values and each
# built-in profile the span of its value in the embedded text
# (src/profile/builtin_data.h), and the built-in default profile's
# groups as a list, so that a run parses no policy JSON unless it loads
# a profile other than the built-in default.  The JSON stays the source of truth: bad
# data fails the build here with the key that is wrong, which is what
# the run-time parser used to abort with.  tests/unit/test_profile_builtin.c
# checks that the compiled data equals what parsing the JSON gives.
import json
import sys


def fail(msg):
	sys.stderr.write("policygen: %s: %s\n" % (sys.argv[1], msg))
	sys.exit(1)


def no_duplicates(pairs):
	seen = {}
	for k, v in pairs:
		if k in seen:
			fail("key %r defined twice" % k)
		seen[k] = v
	return seen


def cstr(s):
	"""A C string literal for s (UTF-8), every byte unambiguous."""
	if s is None:
		return "NULL"
	out = []
	for b in s.encode("utf-8"):
		c = chr(b)
		if c in '"\\?':
			out.append("\\" + c)
		elif 0x20 <= b < 0x7f:
			out.append(c)
		else:
			out.append("\\%03o" % b)
	return '"' + "".join(out) + '"'


def strlist(obj, key, gname):
	"""The strings of obj[key], first occurrence of each, in order."""
	if obj is None or key not in obj:
		return []
	v = obj[key]
	if not isinstance(v, list):
		fail("groups.%s: %s must be a list" % (gname, key))
	out = []
	for i, it in enumerate(v):
		if not isinstance(it, str):
			fail("groups.%s: %s[%d] must be a string" % (gname, key, i))
		if it not in out:
			out.append(it)
	return out


def opt_str(v, key, gname):
	if key not in v:
		return None
	if not isinstance(v[key], str):
		fail("groups.%s: bad %s" % (gname, key))
	return v[key]


def group(name, v):
	if not isinstance(v, dict):
		fail("groups.%s must be an object" % name)
	if not isinstance(v.get("description"), str):
		fail("groups.%s: description missing" % name)
	allow = v.get("allow")
	deny = v.get("deny")
	create = v.get("create")
	for what, o in (("allow", allow), ("deny", deny), ("create", create)):
		if o is not None and not isinstance(o, dict):
			fail("groups.%s: %s must be an object" % (name, what))
	return {
		"name": name,
		"description": v["description"],
		"platform": opt_str(v, "platform", name),
		"required": v.get("required") is True,
		"read": strlist(allow, "read", name),
		"write": strlist(allow, "write", name),
		"readwrite": strlist(allow, "readwrite", name),
		"deny_access": strlist(deny, "access", name),
		"deny_commands": strlist(deny, "commands", name),
		"create_dirs": strlist(create, "dirs", name),
		"create_files": strlist(create, "files", name),
		"agent": opt_str(v, "agent", name),
	}


def ws(s, i):
	while i < len(s) and s[i] in " \t\r\n":
		i += 1
	return i


def spans(s, i):
	"""(name, start, end) of each member of the object at s[i]."""
	dec = json.JSONDecoder()
	out = []
	i = ws(s, i)
	if s[i] != "{":
		fail("profiles must be an object")
	i = ws(s, i + 1)
	if s[i] == "}":
		return out
	while True:
		if s[i] != '"':
			fail("bad member at byte %d" % i)
		name, i = json.decoder.scanstring(s, i + 1)
		i = ws(s, i)
		if s[i] != ":":
			fail("bad member at byte %d" % i)
		start = ws(s, i + 1)
		_, i = dec.raw_decode(s, start)
		out.append((name, start, i))
		i = ws(s, i)
		if s[i] == "}":
			return out
		if s[i] != ",":
			fail("bad member at byte %d" % i)
		i = ws(s, i + 1)


def top_member(s, key):
	"""Where the value of the top-level member key starts in s."""
	for name, start, _ in spans(s, 0):
		if name == key:
			return start
	fail("no %s" % key)


def main():
	raw = open(sys.argv[1], "rb").read()
	try:
		doc = json.loads(raw.decode("utf-8"),
		    object_pairs_hook=no_duplicates)
	except ValueError as err:
		fail(str(err))
	if not isinstance(doc, dict) or not isinstance(doc.get("groups"),
	    dict) or not isinstance(doc.get("profiles"), dict):
		fail("groups and profiles required")
	groups = [group(n, v) for n, v in doc["groups"].items()]
	# Byte offsets: latin-1 maps each byte to one character, and
	# non-ASCII bytes only occur inside strings.
	text = raw.decode("latin-1")
	profiles = spans(text, top_member(text, "profiles"))
	for (name, _, _), want in zip(profiles, doc["profiles"]):
		if name.encode("latin-1").decode("utf-8") != want:
			fail("profile %r: span out of step" % want)
	for name in doc["profiles"]:
		if not isinstance(doc["profiles"][name], dict):
			fail("profiles.%s: not an object" % name)

	w = sys.stdout.write
	w("/* generated from %s by scripts/policygen.py */\n" % sys.argv[1])
	w('#include "profile/builtin_data.h"\n\n')
	lists = ("read", "write", "readwrite", "deny_access",
	    "deny_commands", "create_dirs", "create_files")
	for gi, g in enumerate(groups):
		for key in lists:
			if not g[key]:
				continue
			w("static char *g%d_%s[] = {\n" % (gi, key))
			for it in g[key]:
				w("\t%s,\n" % cstr(it))
			w("\tNULL\n};\n")
	w("\nconst struct profile_group profile_builtin_groups[] = {\n")
	for gi, g in enumerate(groups):
		w("\t{\n")
		w("\t\t.name = %s,\n" % cstr(g["name"]))
		w("\t\t.description = %s,\n" % cstr(g["description"]))
		w("\t\t.platform = %s,\n" % cstr(g["platform"]))
		w("\t\t.required = %s,\n" %
		    ("true" if g["required"] else "false"))
		for key in lists:
			if g[key]:
				w("\t\t.%s = { g%d_%s, %d },\n" %
				    (key, gi, key, len(g[key])))
		w("\t\t.agent = %s,\n" % cstr(g["agent"]))
		w("\t},\n")
	w("};\nconst size_t profile_builtin_ngroups = %d;\n\n" % len(groups))
	w("const struct profile_builtin_span profile_builtin_profiles[] = {\n")
	for name, start, end in profiles:
		w("\t{ %s, %d, %d },\n" % (cstr(name.encode("latin-1").decode(
		    "utf-8")), start, end))
	w("};\nconst size_t profile_builtin_nprofiles = %d;\n" % len(profiles))
	# The built-in default's groups, what every run without --profile
	# needs of it: the other keys it has cannot change its effective
	# groups, the ones that could (extends, policy.exclude_groups, a
	# meta.name other than default) are refused here.
	d = doc["profiles"].get("default")
	if not isinstance(d, dict):
		fail("profiles.default required")
	for key in ("extends", "policy"):
		if key in d:
			fail("profiles.default: %s would change its groups; "
			    "teach policygen.py and profile_default_groups" % key)
	if not isinstance(d.get("meta"), dict) or \
	    d["meta"].get("name") != "default":
		fail("profiles.default: meta.name must be \"default\"")
	dg = strlist(d.get("security"), "groups", "profiles.default.security")
	w("\nstatic char *default_groups[] = {\n")
	for it in dg:
		w("\t%s,\n" % cstr(it))
	w("\tNULL\n};\n")
	w("const struct strv profile_builtin_default_security_groups = "
	    "{ default_groups, %d };\n" % len(dg))


main()
