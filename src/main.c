#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "util/errbuf.h"
#include "util/log.h"

extern char **environ;

int
main(int argc, char **argv)
{
	struct cli	cli = { 0 };
	struct errbuf	e = { 0 };

	if (cli_parse(&cli, argc, argv, environ, &e) == -1) {
		fprintf(stderr, "error: %s\n", errbuf_msg(&e));
		cli_free(&cli);
		return 2;
	}
	cli_free(&cli);
	return 0;
}
