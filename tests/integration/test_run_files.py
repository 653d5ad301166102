"""`keyhole run` filesystem policy (SPEC 2.1, 7): Landlock grants, flag/type
mismatches, missing paths, sensitive paths."""

import os

from run_fixtures import (EACCES, assert_errno, assert_ok, box,  # noqa: F401
    try_bin)


def test_read_inside_allowed_dir_succeeds(box):
	res = box.run_try(["--allow", box.granted], "read",
	    os.path.join(box.granted, "data.txt"))
	assert_ok(res)


def test_write_inside_allowed_dir_succeeds(box):
	target = os.path.join(box.granted, "new.txt")
	res = box.run_try(["--allow", box.granted], "write", target)
	assert_ok(res)
	with open(target) as f:
		assert f.read() == "x"


def test_relative_allow_is_resolved_against_cwd(box):
	res = box.run_try(["--allow", "granted"], "write",
	    os.path.join(box.granted, "rel.txt"))
	assert_ok(res)


def test_read_outside_grants_is_eacces(box):
	res = box.run_try(["--allow", box.granted], "read",
	    os.path.join(box.outside, "data.txt"))
	assert_errno(res, EACCES)


def test_write_outside_grants_is_eacces_and_file_untouched(box):
	target = os.path.join(box.outside, "data.txt")
	res = box.run_try(["--allow", box.granted], "write", target)
	assert_errno(res, EACCES)
	with open(target) as f:
		assert f.read() == "outside\n"


def test_create_outside_grants_is_eacces(box):
	target = os.path.join(box.outside, "created.txt")
	res = box.run_try(["--allow", box.granted], "write", target)
	assert_errno(res, EACCES)
	assert not os.path.exists(target)


def test_list_outside_grants_is_eacces(box):
	res = box.run_try(["--allow", box.granted], "list", box.outside)
	assert_errno(res, EACCES)


def test_read_grant_allows_read(box):
	res = box.run_try(["--read", box.granted], "read",
	    os.path.join(box.granted, "data.txt"))
	assert_ok(res)


def test_read_grant_denies_write_with_eacces(box):
	target = os.path.join(box.granted, "data.txt")
	res = box.run_try(["--read", box.granted], "write", target)
	assert_errno(res, EACCES)
	with open(target) as f:
		assert f.read() == "inside\n"


def test_write_grant_denies_read_with_eacces(box):
	res = box.run_try(["--write", box.granted], "read",
	    os.path.join(box.granted, "data.txt"))
	assert_errno(res, EACCES)


def test_read_file_grant_covers_only_that_file(box):
	other = box.write(os.path.join(box.granted, "other.txt"), "o\n")
	res = box.run_try(["--read-file", os.path.join(box.granted,
	    "data.txt")], "read", other)
	assert_errno(res, EACCES)


def test_allow_file_grants_write_on_the_file(box):
	f = os.path.join(box.granted, "data.txt")
	res = box.run_try(["--allow-file", f], "write", f)
	assert_ok(res)


def test_allow_file_on_a_directory_is_error_exit_1(box):
	res = box.run("run", "--allow-file", box.granted, "--", "true")
	assert res.rc == 1, res
	assert "keyhole: " in res.err and box.granted.split("/")[-1] in res.err
	assert "directory" in res.err, res.err


def test_allow_dir_flag_on_a_file_is_error_exit_1(box):
	f = os.path.join(box.granted, "data.txt")
	res = box.run("run", "--allow", f, "--", "true")
	assert res.rc == 1, res
	assert "data.txt" in res.err and "file" in res.err, res.err


def test_read_file_flag_on_a_directory_is_error_exit_1(box):
	res = box.run("run", "--read-file", box.outside, "--", "true")
	assert res.rc == 1, res
	assert "outside" in res.err and "directory" in res.err, res.err


def test_type_mismatch_does_not_run_the_command(box):
	marker = os.path.join(box.granted, "ran")
	res = box.run("run", "--allow", box.granted, "--allow-file",
	    box.outside, "--", "touch", marker)
	assert res.rc == 1, res
	assert not os.path.exists(marker)


def test_missing_granted_dir_is_skipped_with_warning(box):
	missing = box.path("no-such-dir")
	res = box.run_try(["--allow", missing, "--allow", box.granted],
	    "read", os.path.join(box.granted, "data.txt"))
	assert_ok(res)
	assert "warning" in res.err and "no-such-dir" in res.err, res.err


def test_missing_granted_file_is_skipped_with_warning(box):
	res = box.run("run", "--read-file", box.path("nope.txt"), "--",
	    "true")
	assert res.rc == 0, res
	assert "warning" in res.err and "nope.txt" in res.err, res.err


def test_granting_ssh_dir_is_refused_as_sensitive(box):
	ssh = os.path.join(box.home, ".ssh")
	res = box.run_try(["--read", ssh], "read",
	    os.path.join(ssh, "id_test"))
	assert res.rc == 1, res
	assert "sensitive" in res.err and ssh in res.err, res.err
	assert "--override-deny" in res.err, res.err
	assert "errno=" not in res.out, "the command ran: %r" % res


def test_granting_file_inside_ssh_is_refused(box):
	key = os.path.join(box.home, ".ssh", "id_test")
	res = box.run("run", "--read-file", key, "--", "true")
	assert res.rc == 1, res
	assert "sensitive" in res.err, res.err


def test_override_deny_allows_granting_ssh_dir(box):
	ssh = os.path.join(box.home, ".ssh")
	res = box.run_try(["--read", ssh, "--override-deny", ssh], "read",
	    os.path.join(ssh, "id_test"))
	assert_ok(res)


def test_override_deny_alone_grants_nothing(box):
	ssh = os.path.join(box.home, ".ssh")
	res = box.run_try(["--override-deny", ssh], "read",
	    os.path.join(ssh, "id_test"))
	assert_errno(res, EACCES)


def test_granting_home_containing_ssh_is_refused(box):
	res = box.run("run", "--allow", box.home, "--", "true")
	assert res.rc == 1, res
	assert "sensitive" in res.err and ".ssh" in res.err, res.err


def test_granting_home_via_tilde_free_relative_path_is_refused(box):
	res = box.run("run", "--read", "home", "--", "true")
	assert res.rc == 1, res
	assert "sensitive" in res.err, res.err


def test_ssh_unreachable_when_home_parent_granted_is_refused(box):
	# box.root contains home/.ssh: granting it must be refused too.
	res = box.run("run", "--read", box.root, "--", "true")
	assert res.rc == 1, res
	assert "sensitive" in res.err, res.err


def test_ssh_not_readable_by_default(box):
	res = box.run_try([], "read", os.path.join(box.home, ".ssh",
	    "id_test"))
	assert_errno(res, EACCES)


def test_tmp_is_writable_by_default_but_repo_is_not(box):
	# Sanity for the test layout: the box (under build/) is not granted
	# by the default policy.
	res = box.run_try([], "write", os.path.join(box.granted, "x"))
	assert_errno(res, EACCES)
