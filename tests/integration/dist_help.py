"""Read option spellings back from keyhole's help, independently of
scripts/helpparse.py (the tests check the generators against this)."""

import re
import subprocess

OPT = re.compile(r"^  (?:(-\w)(?:, |(?= )|$))?\s*(--[\w-]+)?")
ALSO = re.compile(r"^\s+\(also (.*)\)$")


def help_text(keyhole, *args):
	p = subprocess.run([keyhole, "help"] + list(args), capture_output=True,
	    text=True, timeout=20)
	assert p.returncode == 0, p.stderr
	return p.stdout


def commands(keyhole):
	text = help_text(keyhole)
	sect = text.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]
	return [l.split()[0] for l in sect.splitlines() if l.strip()]


def options(text):
	"""Every option spelling in the "... options:" sections of a help
	text, aliases included."""
	spell = set()
	inside = False
	for line in text.splitlines():
		if line.endswith(" options:") and not line.startswith(" "):
			inside = True
			continue
		if not line.strip():
			inside = False
			continue
		if not inside:
			continue
		m = ALSO.match(line)
		if m:
			spell.update(a.strip() for a in m.group(1).split(","))
			continue
		m = OPT.match(line)
		if m and (m.group(1) or m.group(2)) and not line.startswith(
		    " " * 32):
			spell.update(x for x in m.groups() if x)
	return spell


def per_command(keyhole):
	"""{command: spellings}; "" is before the command word.  help takes
	no options ("help X" shows X's)."""
	res = {"": options(help_text(keyhole))}
	for c in commands(keyhole):
		res[c] = set() if c == "help" else options(help_text(keyhole, c))
	return res
