"""A file:// credential the sandboxed program could read or replace through
its grants is refused at start (SPEC 3.2): exit 1, naming the credential
and the grant.  One that no grant covers runs."""

import json
import os
import shutil
import tempfile

import pytest

from run_fixtures import box, scratch_base, try_bin  # noqa

SECRET = "file-cred-secret-7c1d"


@pytest.fixture
def vault():
	"""A directory outside the box (and so outside its working
	directory) holding the credential file `token`."""
	d = tempfile.mkdtemp(prefix="test-vault-", dir=scratch_base())
	with open(os.path.join(d, "token"), "w") as f:
		f.write(SECRET + "\n")
	yield d
	shutil.rmtree(d, ignore_errors=True)


def profile(box, path):
	prof = {"meta": {"name": "t"}, "network": {"credentials": ["svc"],
	    "custom_credentials": {"svc": {
	        "upstream": "https://api.example.test",
	        "credential_key": "file://" + path,
	        "env_var": "SVC_API_KEY"}}}}
	p = box.path("creds.json")
	with open(p, "w") as f:
		json.dump(prof, f)
	return p


def run(box, path, *grants):
	return box.run("run", "--profile", profile(box, path), *grants, "--",
	    "/bin/true")


def assert_refused(res, path, grant, verb):
	assert res.rc == 1, res
	assert "credential 'svc' (file://%s)" % path in res.err, res
	assert "grant of %s " % grant in res.err, res
	assert "could %s it" % verb in res.err, res
	assert SECRET not in res.out + res.err, res


def test_credential_under_an_allowed_directory_is_refused(box, vault):
	path = os.path.join(vault, "token")
	assert_refused(run(box, path, "--allow", vault), path, vault,
	    "read or replace")


def test_credential_read_granted_is_refused(box, vault):
	path = os.path.join(vault, "token")
	assert_refused(run(box, path, "--read-file", path), path, path, "read")
	assert_refused(run(box, path, "--read", vault), path, vault, "read")


def test_credential_not_written_yet_under_a_grant_is_refused(box, vault):
	path = os.path.join(vault, "later", "token")
	assert_refused(run(box, path, "--allow", vault), path, vault,
	    "read or replace")


def test_credential_behind_a_symlink_in_a_grant_is_refused(box, vault):
	"""The link lies in a write grant: the child could point it at a
	file of its own."""
	link = os.path.join(box.granted, "vault")
	os.symlink(vault, link)
	path = os.path.join(link, "token")
	assert_refused(run(box, path, "--allow", box.granted), path,
	    box.granted, "read or replace")


def test_credential_reached_through_its_resolved_path_is_refused(box,
    vault):
	link = os.path.join(box.outside, "v")
	os.symlink(vault, link)
	path = os.path.join(link, "token")
	assert_refused(run(box, path, "--read", vault), path, vault, "read")


def test_credential_outside_every_grant_runs(box, vault):
	res = run(box, os.path.join(vault, "token"), "--allow", box.granted)
	assert res.rc == 0, res
	assert "credential 'svc'" not in res.err, res
