"""`keyhole profile schema` (SPEC 10): a JSON Schema (draft 2020-12) of the
profile format that says what `keyhole profile validate` says."""

import json
import os
import re

import jsonschema
import pytest

from conftest import REPO, assert_no_sanitizer_report, start_proxy_raw

SCHEMA_FILE = os.path.join(REPO, "data", "profile-schema.json")


def kh(keyhole, home, *args):
	rc, out, err = start_proxy_raw(keyhole, args, timeout=20,
	    env={"HOME": str(home), "XDG_CONFIG_HOME": str(home / "xdg")})
	assert_no_sanitizer_report(err)
	return rc, out, err


@pytest.fixture
def home(tmp_path):
	h = tmp_path / "home"
	h.mkdir()
	return h


@pytest.fixture
def schema(keyhole, home):
	rc, out, err = kh(keyhole, home, "profile", "schema")
	assert rc == 0, err
	s = json.loads(out)
	jsonschema.Draft202012Validator.check_schema(s)
	return s


def validator(schema):
	return jsonschema.Draft202012Validator(schema)


def test_schema_is_the_embedded_data_file_and_draft_2020_12(keyhole, home,
    schema):
	rc, out, err = kh(keyhole, home, "profile", "schema")
	with open(SCHEMA_FILE) as f:
		assert out == f.read()
	assert schema["$schema"] == \
	    "https://json-schema.org/draft/2020-12/schema"


def test_schema_takes_no_argument_and_no_json(keyhole, home):
	rc, out, err = kh(keyhole, home, "profile", "schema", "x")
	assert rc == 2 and "unexpected argument 'x'" in err, err
	rc, out, err = kh(keyhole, home, "profile", "schema", "--json")
	assert rc == 2 and "not valid for 'profile schema'" in err, err


def builtin_profiles():
	with open(os.path.join(REPO, "data", "policy.json")) as f:
		return json.load(f)["profiles"]


def test_every_builtin_profile_validates_against_the_schema(schema):
	v = validator(schema)
	profiles = builtin_profiles()
	assert len(profiles) >= 5
	for name, doc in profiles.items():
		errs = [e.message for e in v.iter_errors(doc)]
		assert errs == [], (name, errs)


def test_every_shown_builtin_profile_validates_against_the_schema(keyhole,
    home, schema):
	v = validator(schema)
	for name in builtin_profiles():
		rc, out, err = kh(keyhole, home, "profile", "show", name,
		    "--json")
		assert rc == 0, err
		errs = [e.message for e in v.iter_errors(json.loads(out))]
		assert errs == [], (name, errs)


def field_tables():
	"""The key tables of the strict parser, src/profile/load.c:
	{table: {key, ...}} read from `static const struct field X[]`."""
	with open(os.path.join(REPO, "src", "profile", "load.c")) as f:
		src = f.read()
	tabs = {}
	for m in re.finditer(r"static const struct field (\w+)\[\] = "
	    r"\{(.*?)\n\};", src, re.S):
		tabs[m.group(1)] = set(re.findall(r'\{ "(\w+)",', m.group(2)))
	return tabs


def resolve(schema, node):
	while "$ref" in node:
		node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
	if "oneOf" in node:
		node = next(n for n in node["oneOf"] if n.get("type") ==
		    "object")
	return node


def schema_keys(schema):
	"""The same tables, read from the schema."""
	p = schema["properties"]
	net = resolve(schema, p["network"])
	cred = resolve(schema, net["properties"]["custom_credentials"]
	    ["additionalProperties"])
	return {
	    "top_fields": set(p) - {"$schema"},
	    "meta_fields": set(p["meta"]["properties"]),
	    "security_fields": set(p["security"]["properties"]),
	    "fs_fields": set(p["filesystem"]["properties"]),
	    "policy_fields": set(p["policy"]["properties"]),
	    "net_fields": set(net["properties"]),
	    "cred_fields": set(cred["properties"]),
	    "rule_fields": set(cred["properties"]["endpoint_rules"]["items"]
		["properties"]),
	    "host_fields": set(cred["properties"]["hosts"]["items"]
		["properties"]),
	    "env_fields": set(p["environment"]["properties"]),
	    "workdir_fields": set(p["workdir"]["properties"]),
	    "hook_fields": set(p["hooks"]["additionalProperties"]
		["properties"]),
	    "rollback_fields": set(resolve(schema, p["rollback"])
		["properties"]),
	    "open_urls_fields": set(resolve(schema, p["open_urls"])
		["properties"]),
	}


def test_schema_names_exactly_the_keys_the_parser_accepts(schema):
	tabs = field_tables()
	mine = schema_keys(schema)
	assert set(tabs) == set(mine), set(tabs) ^ set(mine)
	for t in tabs:
		assert tabs[t] == mine[t], (t, tabs[t] ^ mine[t])


def test_schema_group_names_are_the_builtin_groups(schema):
	with open(os.path.join(REPO, "data", "policy.json")) as f:
		groups = json.load(f)["groups"]
	enum = schema["properties"]["security"]["properties"]["groups"][
	    "items"]["enum"]
	assert enum == list(groups)
	req = schema["properties"]["policy"]["properties"]["exclude_groups"][
	    "items"]["not"]["enum"]
	assert req == [g for g, d in groups.items() if d.get("required")]


CRED = {"upstream": "https://api.example.com", "credential_key": "MYKEY"}

# (profile document, valid?) — both must give the same answer.
CASES = [
    ({}, True),
    ({"$schema": "x"}, True),
    ({"meta": {"name": "x", "version": "1", "description": None}}, True),
    ({"extends": "default"}, True),
    ({"extends": ["default", "python-dev"]}, True),
    ({"extends": None}, True),
    ({"filesystem": {"allow": ["$WORKDIR"], "read_file": ["~/.gitconfig"]}},
	True),
    ({"security": {"groups": ["node_runtime"]}}, True),
    ({"network": {"block": True}}, True),
    ({"network": {"allow_domain": ["api.github.com", "*.npmjs.org",
	"db.internal:5432"], "credentials": ["openai"]}}, True),
    ({"network": {"credentials": None, "network_profile": None}}, True),
    ({"network": {"credentials": [], "open_port": [3000],
	"listen_port": [8080]}}, True),
    ({"network": {"proxy_allow": ["example.com"]}}, True),
    ({"network": {"custom_credentials": {"svc": CRED}}}, True),
    ({"network": {"custom_credentials": {"svc": dict(CRED, hosts=[
	{"host": "git.example", "inject_mode": "basic_auth",
	"credential_format": "x-access-token:{}"}])}}}, True),
    ({"network": {"custom_credentials": {"svc": dict(CRED, hosts=[
	{"host": "git.example", "inject_mode": "url_path"}])}}}, False),
    ({"network": {"custom_credentials": {"svc": dict(CRED, hosts=[
	{"inject_mode": "header"}])}}}, False),
    ({"network": {"tls_intercept": "off"}}, True),
    ({"network": {"tls_intercept": "sometimes"}}, False),
    ({"network": {"custom_credentials": {"svc": dict(CRED,
	credential_key="env://SVC_KEY", env_var="SVC_KEY",
	endpoint_rules=[{"method": "GET", "path": "/v1/**"}])}}}, True),
    ({"network": {"custom_credentials": {"svc": dict(CRED,
	inject_mode="query_param", query_param_name="key")}}}, True),
    ({"environment": {"allow_vars": ["LANG", "LC_*"],
	"set_vars": {"EDITOR": "vi"}}}, True),
    ({"env_credentials": {"env://SRC": "DEST"}}, True),
    ({"secrets": {"my_account": "DEST"}}, True),
    ({"workdir": {"access": "readwrite"}}, True),
    ({"hooks": {"h": {"event": "e", "matcher": "m", "script": "s"}}}, True),
    ({"open_urls": None, "interactive": True, "skipdirs": ["node_modules"]},
	True),
    ({"undo": {"exclude_globs": ["*.o"]}}, True),
    # Invalid ones.
    ([], False),
    ({"bogus": 1}, False),
    ({"meta": {"version": "1"}}, False),
    ({"meta": {"name": "x", "extra": 1}}, False),
    ({"extends": 3}, False),
    ({"extends": "../etc/x"}, False),
    ({"filesystem": {"allow": "/tmp"}}, False),
    ({"filesystem": {"allow": [1]}}, False),
    ({"filesystem": {"allow_dirs": ["/tmp"]}}, False),
    ({"security": {"groups": ["no_such_group"]}}, False),
    ({"security": {"signal_mode": "sometimes"}}, False),
    ({"policy": {"exclude_groups": ["deny_credentials"]}}, False),
    ({"network": {"block": "yes"}}, False),
    ({"network": {"open_port": [0]}}, False),
    ({"network": {"open_port": [70000]}}, False),
    ({"network": {"open_port": ["80"]}}, False),
    ({"network": {"credentials": "openai"}}, False),
    ({"network": {"credentials": [""]}}, False),
    ({"network": {"allow_domain": ["a.com"], "proxy_allow": ["b.com"]}},
	False),
    ({"network": {"custom_credentials": {"svc": {"upstream":
	"https://x.example"}}}}, False),
    ({"network": {"custom_credentials": {"svc": dict(CRED,
	upstream="http://api.example.com")}}}, False),
    ({"network": {"custom_credentials": {"svc": dict(CRED,
	credential_key="env://SVC_KEY")}}}, False),
    ({"network": {"custom_credentials": {"svc": dict(CRED,
	inject_mode="magic")}}}, False),
    ({"network": {"custom_credentials": {"svc": dict(CRED,
	inject_mode="url_path")}}}, False),
    ({"network": {"custom_credentials": {"svc": dict(CRED,
	inject_mode="query_param")}}}, False),
    ({"network": {"custom_credentials": {"svc": dict(CRED,
	inject_header="Bad Header")}}}, False),
    ({"network": {"custom_credentials": {"svc": dict(CRED,
	endpoint_rules=[{"method": "GET", "path": "v1"}])}}}, False),
    ({"network": {"custom_credentials": {"svc": dict(CRED,
	endpoint_rules=[{"method": "GET"}])}}}, False),
    ({"network": {"custom_credentials": {"svc": dict(CRED,
	env_var="LD_PRELOAD")}}}, False),
    ({"environment": {"allow_vars": ["BAD-NAME"]}}, False),
    ({"environment": {"set_vars": {"KEYHOLE_X": "1"}}}, False),
    ({"environment": {"set_vars": {"LD_PRELOAD": "x"}}}, False),
    ({"environment": {"set_vars": {"A": 1}}}, False),
    ({"env_credentials": {"env://SRC": "bad-dest"}}, False),
    ({"env_credentials": {"ftp://x": "DEST"}}, False),
    ({"env_credentials": {"x": "y"}, "secrets": {"x": "y"}}, False),
    ({"workdir": {"access": "all"}}, False),
    ({"workdir": "readwrite"}, False),
    ({"hooks": {"h": {"event": "e"}}}, False),
    ({"interactive": "yes"}, False),
]


@pytest.mark.parametrize("doc,valid", CASES,
    ids=[json.dumps(c[0])[:60] for c in CASES])
def test_validate_and_schema_agree(keyhole, home, schema, tmp_path, doc,
    valid):
	path = tmp_path / "p.json"
	path.write_text(json.dumps(doc))
	rc, out, err = kh(keyhole, home, "profile", "validate", str(path))
	assert rc == (0 if valid else 1), (rc, out, err)
	errs = [e.message for e in validator(schema).iter_errors(doc)]
	assert (errs == []) == valid, errs
