#!/usr/bin/python3
"""Turn the restricted Markdown of docs/profile-format.md into scdoc.

    md2scd.py PAGE(SECTION) "FOOTER" < in.md > out.scd

So keyhole-profile(5) and the profile reference are one text.  Handled:
the first "# " title (dropped; NAME comes from it), "## " sections, "### "
subsections, paragraphs, "- " lists with indented continuation lines,
``` fenced blocks, `code`, **bold**, and HTML comments (dropped).
Anything else is an error, so the page cannot silently lose text.
"""

import re
import sys


def inline(s):
	out, pos = [], 0
	for m in re.finditer(r"`([^`]+)`|\*\*([^*]+)\*\*", s):
		out.append(esc(s[pos:m.start()]))
		out.append("*" + esc(m.group(1) or m.group(2)) + "*")
		pos = m.end()
	out.append(esc(s[pos:]))
	return "".join(out)


def esc(s):
	return s.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")


def main():
	page, footer = sys.argv[1], sys.argv[2]
	lines = sys.stdin.read().splitlines()
	out = []
	i = 0
	title = None
	para = []

	def flush():
		if para:
			out.append(inline(" ".join(para)))
			out.append("")
			para.clear()

	while i < len(lines):
		l = lines[i]
		if l.startswith("<!--"):
			while "-->" not in lines[i]:
				i += 1
			i += 1
			continue
		if l.startswith("```"):
			flush()
			out.append("```")
			i += 1
			while not lines[i].startswith("```"):
				out.append(lines[i])
				i += 1
			out.append("```")
			out.append("")
			i += 1
			continue
		if l.startswith("# "):
			if title is not None:
				sys.exit("md2scd: a second title: %r" % l)
			title = l[2:].strip()
			i += 1
			continue
		if l.startswith("## ") or l.startswith("### "):
			flush()
			lvl, text = l.split(" ", 1)
			out.append("%s %s" % ("#" if lvl == "##" else "##",
			    esc(text.upper() if lvl == "##" else text)))
			out.append("")
			i += 1
			continue
		if l.startswith("- "):
			flush()
			item = [l[2:].strip()]
			i += 1
			while i < len(lines) and lines[i].startswith("  ") and \
			    lines[i].strip():
				item.append(lines[i].strip())
				i += 1
			out.append("- " + inline(" ".join(item)))
			if i < len(lines) and not lines[i].startswith("- "):
				out.append("")
			continue
		if l.strip() == "":
			flush()
			i += 1
			continue
		if re.match(r"^\s*([|>#]|\d+\.)", l):
			sys.exit("md2scd: unsupported markdown: %r" % l)
		para.append(l.strip())
		i += 1
	flush()
	name, sect = re.fullmatch(r"(.+)\((\d)\)", page).groups()
	head = ['%s(%s) "%s"' % (name, sect, footer), "", "# NAME", "",
	    "%s - %s" % (name, esc(title)), "", "# DESCRIPTION", ""]
	sys.stdout.write("\n".join(head + out).rstrip("\n") + "\n")


if __name__ == "__main__":
	main()
