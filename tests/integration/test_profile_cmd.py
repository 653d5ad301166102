"""`keyhole profile list | show NAME [--json] | validate FILE` (SPEC 2, 8;
nono-profile.md 1-3): listing with built-in/user marks, the merged JSON of
a profile, credentials three-state, strict validation with file, line,
column and key path in every message."""

import json
import re

import pytest

from conftest import assert_no_sanitizer_report, start_proxy_raw

BUILTINS = ("default", "linux-host-compat", "claude-code", "codex",
    "opencode", "openclaw", "swival", "python-dev", "node-dev", "rust-dev",
    "go-dev")

# The message shape of a profile error (profile.h): "profile LABEL: line L
# column C: KEY.PATH: what".
LINE_COL = re.compile(r"line (\d+) column (\d+)")


class Cfg:
	"""A private HOME and XDG_CONFIG_HOME, with both user profile dirs."""

	def __init__(self, tmp_path):
		self.root = tmp_path
		self.home = tmp_path / "home"
		self.xdg = tmp_path / "xdg"
		self.user_dir = self.xdg / "keyhole" / "profiles"
		self.nono_dir = self.home / ".config" / "nono" / "profiles"
		self.home.mkdir()
		self.xdg.mkdir()
		self.env = {"HOME": str(self.home),
		    "XDG_CONFIG_HOME": str(self.xdg)}

	def user(self, name, doc, nono=False):
		"""Write a user profile NAME.json (keyhole dir, or nono's)."""
		d = self.nono_dir if nono else self.user_dir
		d.mkdir(parents=True, exist_ok=True)
		p = d / (name + ".json")
		p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
		return str(p)

	def file(self, name, doc):
		"""Write a profile file outside the user dirs; its absolute path."""
		p = self.root / name
		p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
		return str(p)


@pytest.fixture
def cfg(tmp_path):
	return Cfg(tmp_path)


def kh(keyhole, cfg, *args):
	"""Run keyhole ARGS with the private HOME; (rc, stdout, stderr).
	Sanitizer reports fail the test."""
	rc, out, err = start_proxy_raw(keyhole, args, timeout=20, env=cfg.env)
	assert_no_sanitizer_report(err)
	return rc, out, err


def assert_error(rc, out, err, *contains):
	"""exit 1, nothing on stdout, one "keyhole: ..." line naming all of
	contains."""
	assert rc == 1, "rc %d; stdout %r; stderr %r" % (rc, out, err)
	assert out == "", out
	lines = [l for l in err.splitlines() if not l.startswith(
	    "keyhole: warning:")]
	assert len(lines) == 1, err
	assert lines[0].startswith("keyhole: "), err
	for c in contains:
		assert c in lines[0], "%r not in %r" % (c, lines[0])
	return lines[0]


def list_lines(keyhole, cfg):
	rc, out, err = kh(keyhole, cfg, "profile", "list")
	assert rc == 0, err
	assert err == "", err
	lines = out.splitlines()
	by_name = {}
	for l in lines:
		name, _, mark = l.partition(" ")
		assert name not in by_name, "%s listed twice:\n%s" % (name, out)
		by_name[name] = mark
	return by_name


def show_json(keyhole, cfg, name):
	rc, out, err = kh(keyhole, cfg, "profile", "show", name, "--json")
	assert rc == 0, err
	return json.loads(out)


# --- profile list ----------------------------------------------------------

def test_list_marks_every_builtin_profile(keyhole, cfg):
	marks = list_lines(keyhole, cfg)
	for name in BUILTINS:
		assert marks.get(name) == "(built-in)", (name, marks)


def test_list_without_user_dirs_has_no_user_entries(keyhole, cfg):
	marks = list_lines(keyhole, cfg)
	assert set(marks) == set(BUILTINS), marks


def test_list_marks_user_profile_in_keyhole_dir(keyhole, cfg):
	cfg.user("mine", {"meta": {"name": "mine"}})
	marks = list_lines(keyhole, cfg)
	assert marks["mine"] == "(user)"
	assert marks["default"] == "(built-in)"


def test_list_marks_user_profile_in_nono_dir(keyhole, cfg):
	cfg.user("from-nono", {"meta": {"name": "from-nono"}}, nono=True)
	marks = list_lines(keyhole, cfg)
	assert marks["from-nono"] == "(user)"


def test_list_names_profile_in_both_user_dirs_once(keyhole, cfg):
	cfg.user("both", {})
	cfg.user("both", {}, nono=True)
	marks = list_lines(keyhole, cfg)
	assert marks["both"] == "(user)"


def test_list_marks_builtin_shadowed_by_user_file(keyhole, cfg):
	cfg.user("codex", {"meta": {"name": "my codex"}})
	marks = list_lines(keyhole, cfg)
	assert marks["codex"] == "(built-in, shadowed by a user profile)"
	assert marks["claude-code"] == "(built-in)"


def test_list_marks_builtin_shadowed_from_nono_dir(keyhole, cfg):
	cfg.user("go-dev", {}, nono=True)
	marks = list_lines(keyhole, cfg)
	assert marks["go-dev"] == "(built-in, shadowed by a user profile)"


def test_list_skips_non_json_and_invalid_names(keyhole, cfg):
	cfg.user("good", {})
	cfg.user_dir.joinpath("notes.txt").write_text("x")
	cfg.user_dir.joinpath("bad_name.json").write_text("{}")
	marks = list_lines(keyhole, cfg)
	assert "good" in marks
	assert "notes" not in marks and "notes.txt" not in marks
	assert "bad_name" not in marks


# --- profile show ----------------------------------------------------------

def test_show_json_is_valid_json_with_profile_sections(keyhole, cfg):
	d = show_json(keyhole, cfg, "default")
	for key in ("meta", "security", "filesystem", "policy", "network",
	    "workdir"):
		assert key in d, sorted(d)
	assert d["meta"]["name"] == "default"
	assert isinstance(d["security"]["groups"], list)


@pytest.mark.parametrize("name", BUILTINS)
def test_show_json_of_every_builtin_parses(keyhole, cfg, name):
	d = show_json(keyhole, cfg, name)
	assert d["meta"]["name"] == name


def test_show_child_of_claude_code_merges_groups_and_filesystem(keyhole,
    cfg):
	base = show_json(keyhole, cfg, "claude-code")
	cfg.user("my-claude", {"extends": "claude-code",
	    "meta": {"name": "my-claude"},
	    "security": {"groups": ["git_config", "go_runtime"]},
	    "filesystem": {"read": ["/opt/child"],
	        "allow": ["$HOME/.claude", "/srv/work"]}})
	d = show_json(keyhole, cfg, "my-claude")
	g = d["security"]["groups"]
	# every group of the base, in order, then the child's new one, once
	assert g[:len(base["security"]["groups"])] == base["security"]["groups"]
	assert "go_runtime" in g
	assert g.count("git_config") == 1
	assert len(g) == len(set(g))
	fs = d["filesystem"]
	assert fs["allow"] == ["$HOME/.claude", "/srv/work"]
	assert fs["read"] == base["filesystem"]["read"] + ["/opt/child"]
	assert fs["allow_file"] == base["filesystem"]["allow_file"]
	assert "$HOME/.claude.json" in fs["allow_file"]
	assert d["meta"]["name"] == "my-claude"
	assert d["workdir"]["access"] == "readwrite"


def test_show_by_path_of_child_of_claude_code(keyhole, cfg):
	p = cfg.file("child.json", {"extends": "claude-code",
	    "filesystem": {"read_file": ["/etc/child.conf"]}})
	d = show_json(keyhole, cfg, p)
	assert "claude_code_linux" in d["security"]["groups"]
	assert d["filesystem"]["read_file"] == ["/etc/child.conf"]
	assert "$HOME/.claude" in d["filesystem"]["allow"]


def test_show_credentials_absent_is_null(keyhole, cfg):
	p = cfg.file("p.json", {"network": {"allow_domain": ["a.example"]}})
	d = show_json(keyhole, cfg, p)
	assert "credentials" in d["network"]
	assert d["network"]["credentials"] is None


def test_show_credentials_null_is_null(keyhole, cfg):
	p = cfg.file("p.json", {"network": {"credentials": None}})
	assert show_json(keyhole, cfg, p)["network"]["credentials"] is None


def test_show_credentials_empty_list_is_empty_list(keyhole, cfg):
	p = cfg.file("p.json", {"network": {"credentials": []}})
	assert show_json(keyhole, cfg, p)["network"]["credentials"] == []


def test_show_credentials_list_is_the_list(keyhole, cfg):
	p = cfg.file("p.json", {"network": {"credentials": ["github"]}})
	assert show_json(keyhole, cfg, p)["network"]["credentials"] == \
	    ["github"]


def test_show_child_credentials_empty_clears_base(keyhole, cfg):
	cfg.user("cbase", {"network": {"credentials": ["github", "gitlab"]}})
	p = cfg.file("p.json", {"extends": "cbase",
	    "network": {"credentials": []}})
	assert show_json(keyhole, cfg, p)["network"]["credentials"] == []


def test_show_child_credentials_absent_inherits_base(keyhole, cfg):
	cfg.user("cbase", {"network": {"credentials": ["github", "gitlab"]}})
	p = cfg.file("p.json", {"extends": "cbase",
	    "network": {"allow_domain": ["x.example"]}})
	assert show_json(keyhole, cfg, p)["network"]["credentials"] == \
	    ["github", "gitlab"]


def test_show_child_credentials_null_inherits_base(keyhole, cfg):
	cfg.user("cbase", {"network": {"credentials": ["github"]}})
	p = cfg.file("p.json", {"extends": "cbase",
	    "network": {"credentials": None}})
	assert show_json(keyhole, cfg, p)["network"]["credentials"] == \
	    ["github"]


def test_show_child_credentials_list_appends_without_duplicates(keyhole,
    cfg):
	cfg.user("cbase", {"network": {"credentials": ["github", "gitlab"]}})
	p = cfg.file("p.json", {"extends": "cbase",
	    "network": {"credentials": ["gitlab", "openai"]}})
	assert show_json(keyhole, cfg, p)["network"]["credentials"] == \
	    ["github", "gitlab", "openai"]


def test_show_user_profile_shadows_builtin(keyhole, cfg):
	cfg.user("codex", {"meta": {"name": "shadow"},
	    "filesystem": {"read": ["/opt/shadow"]}})
	d = show_json(keyhole, cfg, "codex")
	assert d["meta"]["name"] == "shadow"
	assert d["filesystem"]["read"] == ["/opt/shadow"]


def test_show_keyhole_dir_wins_over_nono_dir(keyhole, cfg):
	cfg.user("dup", {"meta": {"name": "from-keyhole"}})
	cfg.user("dup", {"meta": {"name": "from-nono"}}, nono=True)
	assert show_json(keyhole, cfg, "dup")["meta"]["name"] == "from-keyhole"


def test_show_finds_profile_in_nono_dir(keyhole, cfg):
	cfg.user("nn", {"meta": {"name": "from-nono"}}, nono=True)
	assert show_json(keyhole, cfg, "nn")["meta"]["name"] == "from-nono"


def test_show_text_names_the_profile(keyhole, cfg):
	rc, out, err = kh(keyhole, cfg, "profile", "show", "claude-code")
	assert rc == 0, err
	assert "claude-code" in out
	assert "$HOME/.claude" in out
	with pytest.raises(ValueError):
		json.loads(out)


def test_show_unknown_name_is_exit_1_naming_it(keyhole, cfg):
	rc, out, err = kh(keyhole, cfg, "profile", "show", "no-such-profile",
	    "--json")
	assert_error(rc, out, err, "no-such-profile", "not found")


def test_show_missing_path_is_exit_1_naming_it(keyhole, cfg):
	p = str(cfg.root / "missing.json")
	rc, out, err = kh(keyhole, cfg, "profile", "show", p)
	assert_error(rc, out, err, p, "not found")


def test_show_invalid_name_is_exit_1_naming_it(keyhole, cfg):
	rc, out, err = kh(keyhole, cfg, "profile", "show", "bad_name")
	assert_error(rc, out, err, "'bad_name'")


# --- profile validate ------------------------------------------------------

def test_validate_valid_file_exits_0(keyhole, cfg):
	p = cfg.file("ok.json", {"extends": "claude-code",
	    "meta": {"name": "ok"},
	    "network": {"allow_domain": ["api.example.com"],
	        "credentials": ["mysvc"],
	        "custom_credentials": {"mysvc": {
	            "upstream": "https://mysvc.example",
	            "credential_key": "MYSVC_KEY"}}}})
	rc, out, err = kh(keyhole, cfg, "profile", "validate", p)
	assert rc == 0, err
	assert out == "%s: valid\n" % p
	assert err == ""


def test_validate_ignores_schema_key(keyhole, cfg):
	p = cfg.file("ok.json", {"$schema": "https://example/schema.json",
	    "meta": {"name": "ok"}})
	rc, out, err = kh(keyhole, cfg, "profile", "validate", p)
	assert rc == 0, err


def test_validate_unknown_key_names_file_line_column_and_path(keyhole, cfg):
	doc = ('{\n'
	    '  "meta": {"name": "x"},\n'
	    '  "network": {\n'
	    '    "allow_domain": ["a.example"],\n'
	    '    "bogus_key": true\n'
	    '  }\n'
	    '}\n')
	p = cfg.file("unk.json", doc)
	rc, out, err = kh(keyhole, cfg, "profile", "validate", p)
	line = assert_error(rc, out, err, p, "network.bogus_key", "unknown")
	m = LINE_COL.search(line)
	assert m, line
	assert m.group(1) == "5", line
	# the column is on the offending member: its key (5) up to its
	# value (18)
	assert 5 <= int(m.group(2)) <= 18, line


def test_validate_unknown_top_level_key(keyhole, cfg):
	p = cfg.file("unk.json", '{"meta": {"name": "x"}, "netwrok": {}}')
	rc, out, err = kh(keyhole, cfg, "profile", "validate", p)
	assert_error(rc, out, err, p, "netwrok", "line 1 column")


def test_validate_unknown_key_in_custom_credential(keyhole, cfg):
	doc = ('{"network": {"custom_credentials": {"mysvc": {\n'
	    '  "upstream": "https://mysvc.example",\n'
	    '  "credential_key": "K",\n'
	    '  "colour": "blue"}}}}\n')
	p = cfg.file("unk.json", doc)
	rc, out, err = kh(keyhole, cfg, "profile", "validate", p)
	assert_error(rc, out, err, p, "line 4 column",
	    "network.custom_credentials.mysvc.colour")


@pytest.mark.parametrize("upstream", ["http://mysvc.example",
    "http://mysvc.example:8080/v1", "http://10.0.0.1",
    "http://127.0.0.1.evil.example", "http://localhost.evil.example"])
def test_validate_http_upstream_to_remote_host_is_refused(keyhole, cfg,
    upstream):
	doc = ('{"network": {"custom_credentials": {"mysvc": {\n'
	    '  "credential_key": "MYSVC_KEY",\n'
	    '  "upstream": "%s"}}}}\n' % upstream)
	p = cfg.file("bad.json", doc)
	rc, out, err = kh(keyhole, cfg, "profile", "validate", p)
	line = assert_error(rc, out, err, p, "line 3 column",
	    "network.custom_credentials.mysvc.upstream", upstream)
	assert "HTTPS" in line or "https" in line, line


@pytest.mark.parametrize("upstream", ["http://127.0.0.1:8080",
    "http://localhost:8080/v1", "http://[::1]:8080"])
def test_validate_http_upstream_to_loopback_is_valid(keyhole, cfg,
    upstream):
	p = cfg.file("ok.json", {"network": {"custom_credentials": {"svc": {
	    "upstream": upstream, "credential_key": "K"}}}})
	rc, out, err = kh(keyhole, cfg, "profile", "validate", p)
	assert rc == 0, err


def test_validate_non_http_upstream_is_refused(keyhole, cfg):
	p = cfg.file("bad.json", {"network": {"custom_credentials": {"svc": {
	    "upstream": "ftp://svc.example", "credential_key": "K"}}}})
	rc, out, err = kh(keyhole, cfg, "profile", "validate", p)
	assert_error(rc, out, err, p, "network.custom_credentials.svc.upstream",
	    "ftp://svc.example")


def test_validate_extends_cycle_names_the_chain(keyhole, cfg):
	cfg.user("cyc-a", {"extends": "cyc-b"})
	cfg.user("cyc-b", {"extends": "cyc-a"})
	p = cfg.file("top.json", {"extends": "cyc-a"})
	rc, out, err = kh(keyhole, cfg, "profile", "validate", p)
	assert_error(rc, out, err, "circular",
	    "cyc-a -> cyc-b -> cyc-a", "extends")


def test_validate_self_extends_is_a_cycle(keyhole, cfg):
	cfg.user("selfie", {"extends": "selfie"})
	rc, out, err = kh(keyhole, cfg, "profile", "show", "selfie")
	assert_error(rc, out, err, "circular", "selfie -> selfie")


def chain(cfg, n):
	"""User profiles lv1 -> lv2 -> ... -> lvN (lvN has no extends) and
	a top file extending lv1: N ancestor levels."""
	for i in range(1, n + 1):
		doc = {"meta": {"name": "lv%d" % i}}
		if i < n:
			doc["extends"] = "lv%d" % (i + 1)
		cfg.user("lv%d" % i, doc)
	return cfg.file("top.json", {"extends": "lv1"})


def test_validate_extends_ten_levels_is_valid(keyhole, cfg):
	p = chain(cfg, 10)
	rc, out, err = kh(keyhole, cfg, "profile", "validate", p)
	assert rc == 0, err


def test_validate_extends_eleven_levels_is_too_deep(keyhole, cfg):
	p = chain(cfg, 11)
	rc, out, err = kh(keyhole, cfg, "profile", "validate", p)
	line = assert_error(rc, out, err, "too deep", "lv1 -> lv2")
	assert "10" in line, line


def test_validate_shared_base_diamond_is_valid(keyhole, cfg):
	cfg.user("d-root", {"filesystem": {"read": ["/opt/root"]}})
	cfg.user("d-left", {"extends": "d-root"})
	cfg.user("d-right", {"extends": "d-root"})
	p = cfg.file("top.json", {"extends": ["d-left", "d-right"]})
	rc, out, err = kh(keyhole, cfg, "profile", "validate", p)
	assert rc == 0, err
	d = show_json(keyhole, cfg, p)
	assert d["filesystem"]["read"] == ["/opt/root"]


def test_validate_missing_base_names_it(keyhole, cfg):
	p = cfg.file("top.json", {"extends": "no-such-base"})
	rc, out, err = kh(keyhole, cfg, "profile", "validate", p)
	assert_error(rc, out, err, p, "extends", "'no-such-base'", "not found")


def test_validate_syntax_error_names_line_and_column(keyhole, cfg):
	p = cfg.file("bad.json", '{\n  "meta": {"name": "a"},\n}\n')
	rc, out, err = kh(keyhole, cfg, "profile", "validate", p)
	assert_error(rc, out, err, p, "line 3 column")


def test_validate_duplicate_key_is_refused(keyhole, cfg):
	p = cfg.file("bad.json", '{"meta": {"name": "a"}, "meta": {"name": '
	    '"b"}}')
	rc, out, err = kh(keyhole, cfg, "profile", "validate", p)
	assert_error(rc, out, err, p, "duplicate", "meta")


def test_validate_port_out_of_range_names_the_element(keyhole, cfg):
	p = cfg.file("bad.json", '{"network": {"open_port": [8080, 70000]}}')
	rc, out, err = kh(keyhole, cfg, "profile", "validate", p)
	assert_error(rc, out, err, p, "network.open_port[1]", "70000")


def test_validate_top_level_list_is_refused(keyhole, cfg):
	p = cfg.file("bad.json", "[]")
	rc, out, err = kh(keyhole, cfg, "profile", "validate", p)
	assert_error(rc, out, err, p, "object")


def test_validate_missing_file_is_exit_1_naming_it(keyhole, cfg):
	p = str(cfg.root / "nope.json")
	rc, out, err = kh(keyhole, cfg, "profile", "validate", p)
	assert_error(rc, out, err, p, "not found")


def test_validate_without_file_is_usage_error(keyhole, cfg):
	rc, out, err = kh(keyhole, cfg, "profile", "validate")
	assert rc == 2, (rc, err)
	assert err.startswith("error: "), err


def test_validate_refuses_allow_domain_url_with_path(keyhole, cfg):
	"""SPEC 4.3: a URL with a path is an error; `proxy --profile` refuses
	it, so `validate` must not call the file valid."""
	doc = ('{"network": {\n'
	    '  "allow_domain": ["https://api.example.com/v1"]}}\n')
	p = cfg.file("bad.json", doc)
	rc, out, err = kh(keyhole, cfg, "profile", "validate", p)
	assert_error(rc, out, err, p, "network.allow_domain[0]",
	    "https://api.example.com/v1")


def test_show_json_has_compressed_responses_of_custom_routes(keyhole, cfg):
	p = cfg.file("cr.json", {"meta": {"name": "cr"},
	    "network": {"custom_credentials": {
	        "zipped": {"upstream": "https://z.example",
	            "credential_key": "Z_KEY", "compressed_responses": True},
	        "plain": {"upstream": "https://p.example",
	            "credential_key": "P_KEY"}}}})
	js = show_json(keyhole, cfg, p)
	cc = js["network"]["custom_credentials"]
	assert cc["zipped"]["compressed_responses"] is True, cc
	assert cc["plain"]["compressed_responses"] is False, cc
