"""Read keyhole's option table back from its help output.

`keyhole help` and `keyhole help COMMAND` print the one option table of
src/cli.c.  The man page (mangen.py) and the shell completions
(compgen.py) are made from what this module reads, so neither can name an
option the binary lacks or miss one it has.
"""

import re
import subprocess
import sys

HELP_COL = 32


def run(keyhole, *args):
	return subprocess.run([keyhole] + list(args), check=True,
	    capture_output=True, text=True).stdout


def commands(keyhole):
	"""Command names, in the overview's order."""
	out = run(keyhole, "help")
	sect = out.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]
	return [l.split()[0] for l in sect.splitlines() if l.strip()]


OPT_LINE = re.compile(r"^  (?:(-\w), |(-\w)(?= )|    )(--[\w-]+)?"
    r"(?: (\S+))?(?: {2,}(.*))?$")


def parse_help(text):
	"""[(section, [option])] and [(var, help)] of one --help text; an
	option is {short, long, arg, help, also}."""
	sections, env = [], []
	cur = None
	mode = None
	for line in text.splitlines():
		m = re.match(r"^(\S.*) options:$", line)
		if m:
			cur = (m.group(1), [])
			sections.append(cur)
			mode = "opt"
			continue
		if line.startswith("Environment"):
			mode = "env"
			continue
		if line == "" or not line.startswith(" "):
			mode = None if line == "" or mode != "env" else mode
			continue
		if mode == "env":
			if line.startswith(" " * HELP_COL):
				env[-1][1] += " " + line.strip()
			else:
				var, h = line.split(None, 1)
				env.append([var, h.strip()])
			continue
		if mode != "opt":
			continue
		if line.startswith(" " * HELP_COL):
			t = line.strip()
			o = cur[1][-1]
			m = re.fullmatch(r"\(also (.*)\)", t)
			if m:
				o["also"] = [a.strip() for a in
				    m.group(1).split(",")]
			else:
				o["help"] = (o["help"] + " " + t).strip()
			continue
		m = OPT_LINE.match(line)
		if m is None:
			sys.exit("mangen: cannot read option line %r" % line)
		short, short_only, lng, arg, h = m.groups()
		short = short or short_only
		cur[1].append({"short": short, "long": lng, "arg": arg,
		    "help": (h or "").strip(), "also": []})
	return sections, env


def gather(keyhole):
	"""Options in first-seen section order with the commands taking
	them; environment variables likewise."""
	order, opts, env, envorder = [], {}, {}, []
	top, _ = parse_help(run(keyhole, "help"))
	helps = [("keyhole", top)]
	for c in commands(keyhole):
		if c == "help":
			continue	# takes no options: "help X" is X's help
		s, e = parse_help(run(keyhole, "help", c))
		helps.append((c, s))
		for var, h in e:
			if var not in env:
				env[var] = [h, []]
				envorder.append(var)
			env[var][1].append(c)
	for cmd, sections in helps:
		for title, lst in sections:
			if title not in opts:
				opts[title] = {}
				order.append(title)
			for o in lst:
				key = o["long"] or o["short"]
				# Several sections may hold one option: keep the
				# first place, add the command.
				where = next((t for t in order if key in opts[t]),
				    title)
				if key not in opts[where]:
					opts[where][key] = dict(o, cmds=[])
				if cmd not in opts[where][key]["cmds"]:
					opts[where][key]["cmds"].append(cmd)
	return order, opts, envorder, env




def summaries(keyhole):
	"""{command: one-line summary} from the overview."""
	out = run(keyhole, "help")
	sect = out.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]
	res = {}
	for l in sect.splitlines():
		if l.strip():
			name, summary = l.split(None, 1)
			res[name] = summary.strip()
	return res


def per_command(keyhole):
	"""{command or "": [option]} where "" is before the command word;
	each option is {short, long, arg, help, also} as in parse_help."""
	res = {"": [o for _, lst in parse_help(run(keyhole, "help"))[0]
	    for o in lst]}
	for c in commands(keyhole):
		if c == "help":
			res[c] = []
			continue
		sections, _ = parse_help(run(keyhole, "help", c))
		res[c] = [o for _, lst in sections for o in lst]
	return res


def spellings(o):
	"""Every spelling of an option: short, long and aliases."""
	return [s for s in [o["short"], o["long"]] + o["also"] if s]
