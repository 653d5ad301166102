#!/usr/bin/python3
"""Fill the generated parts of a man page source from keyhole's own help.

    mangen.py KEYHOLE TEMPLATE.scd [PREFIX] > OUT.scd

The option list (@OPTIONS@), the environment equivalents (@OPTION_ENV@)
the version (@VERSION@) come from `KEYHOLE help` and `KEYHOLE COMMAND
--help`, which print the one option table of src/cli.c: the man page
cannot name an option the binary lacks, or miss one it has.  @PREFIX@
is the installation prefix (default /usr/local).
"""

import sys

from helpparse import gather, run


def esc(s):
	"""Text for scdoc: no formatting characters."""
	return s.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")


def render_options(order, opts):
	out = []
	for title in order:
		if not opts[title]:
			continue
		out.append("## %s options\n" % esc(title))
		for key, o in opts[title].items():
			names = []
			if o["short"]:
				names.append("*%s*" % o["short"])
			if o["long"]:
				names.append("*%s*" % o["long"])
			head = ", ".join(names)
			if o["arg"]:
				head += " _%s_" % esc(o["arg"])
			out.append(head)
			body = esc(o["help"])
			if body and not body.endswith("."):
				body += "."
			if o["also"]:
				body += " Also spelled %s." % ", ".join(
				    "*%s*" % a for a in o["also"])
			cmds = [c for c in o["cmds"] if c != "keyhole"]
			if "keyhole" in o["cmds"]:
				cmds.insert(0, "before the command")
			body += " _Commands:_ %s." % ", ".join(cmds)
			out.append("\t" + body + "\n")
	return "\n".join(out)


def render_env(envorder, env):
	out = []
	for var in envorder:
		h, cmds = env[var]
		nono = "NONO_" + var[len("KEYHOLE_"):]
		out.append("*%s*, *%s*" % (esc(var), esc(nono)))
		out.append("\tAs %s. _Commands:_ %s.\n" % (esc(h),
		    ", ".join(cmds)))
	return "\n".join(out)


def main():
	keyhole, template = sys.argv[1], sys.argv[2]
	prefix = sys.argv[3] if len(sys.argv) > 3 else "/usr/local"
	with open(template) as f:
		text = f.read()
	order, opts, envorder, env = gather(keyhole)
	version = run(keyhole, "--version").split()[1]
	text = text.replace("@OPTIONS@", render_options(order, opts))
	text = text.replace("@OPTION_ENV@", render_env(envorder, env))
	text = text.replace("@VERSION@", version)
	text = text.replace("@PREFIX@", prefix)
	sys.stdout.write(text)


if __name__ == "__main__":
	main()
