/*
 * Allow-list entries (policy_allowlist_add, with the built-in network
 * policy so group names expand) and matching (policy_allowlist_allows).
 *
 * Input: lines.  Entries until a line "---", then queries
 * "HOST PORT" (PORT decimal; a leading '+' on HOST means forward use).
 * Query hosts are canonicalised first, as the proxy does.
 *
 * Invariants: each entry appended by a successful add allows what it
 * names (host or IP on its port, or the default port of its use; a
 * suffix allows a subdomain but never itself); adding the same text
 * twice adds nothing; a failed add appends nothing and names the entry.
 */
#include "fuzz.h"
#include "policy/allowlist.h"
#include "policy/netpolicy.h"
#include "util/errbuf.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct netpolicy *np;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	np = policy_netpolicy_builtin();
	return 0;
}

/* The new entry ae must allow what it names. */
static void
check_entry(const struct allowlist *al, const struct allow_entry *ae)
{
	char		*sub;
	size_t		 n;
	uint16_t	 port = ae->port;

	FZ_ASSERT(ae->host != NULL && ae->host[0] != '\0', "empty host");
	FZ_ASSERT(ae->source != NULL, "no source");
	if (ae->kind == ALLOW_SUFFIX) {
		FZ_ASSERT(!policy_allowlist_suffix_match(ae->host, ae->host),
		    "suffix '%s' matches itself", ae->host);
		n = strlen(ae->host);
		sub = malloc(n + 3);
		if (sub == NULL)
			abort();
		memcpy(sub, "a.", 2);
		memcpy(sub + 2, ae->host, n + 1);
		FZ_ASSERT(policy_allowlist_suffix_match(sub, ae->host),
		    "'%s' not under '%s'", sub, ae->host);
		FZ_ASSERT(policy_allowlist_allows(al, sub, port ? port : 443,
		    ALLOW_USE_CONNECT), "'%s' not allowed", sub);
		free(sub);
		return;
	}
	FZ_ASSERT(policy_allowlist_allows(al, ae->host, port ? port : 443,
	    ALLOW_USE_CONNECT), "'%s':%u not allowed (connect)", ae->host,
	    port);
	FZ_ASSERT(policy_allowlist_allows(al, ae->host, port ? port : 80,
	    ALLOW_USE_FORWARD), "'%s':%u not allowed (forward)", ae->host,
	    port);
	FZ_ASSERT((ae->kind == ALLOW_IP) == policy_allowlist_is_ip(ae->host),
	    "kind of '%s'", ae->host);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz	 f = { data, size };
	struct allowlist al = { 0 };
	struct errbuf	 e;
	char		*line, *sp, *c;
	size_t		 before, i, nent = 0;
	unsigned long	 port;
	bool		 fwd;

	while (fz_more(&f) && nent < 64) {
		line = fz_field(&f, '\n', NULL);
		if (strcmp(line, "---") == 0) {
			free(line);
			break;
		}
		nent++;
		before = al.n;
		errbuf_clear(&e);
		if (policy_allowlist_add(&al, line, np, &e) == 0) {
			for (i = before; i < al.n; i++)
				check_entry(&al, &al.v[i]);
			before = al.n;
			FZ_ASSERT(policy_allowlist_add(&al, line, np,
			    &e) == 0 && al.n == before,
			    "'%s' added twice", line);
		} else {
			FZ_ASSERT(al.n == before, "failed add appended");
			FZ_ASSERT(strncmp(errbuf_msg(&e), "allow-domain '",
			    14) == 0, "message '%s'", errbuf_msg(&e));
		}
		free(line);
	}
	while (fz_more(&f)) {
		line = fz_field(&f, '\n', NULL);
		fwd = line[0] == '+';
		port = 0;
		if ((sp = strrchr(line, ' ')) != NULL) {
			*sp = '\0';
			port = strtoul(sp + 1, NULL, 10) & 0xffff;
		}
		c = policy_allowlist_canon_host(line + fwd,
		    strlen(line + fwd), &e);
		if (c != NULL) {
			(void)policy_allowlist_allows(&al, c, (uint16_t)port,
			    fwd ? ALLOW_USE_FORWARD : ALLOW_USE_CONNECT);
			free(c);
		}
		free(line);
	}
	FZ_ASSERT(al.n > 0 || policy_allowlist_allows(&al, "x", 1,
	    ALLOW_USE_CONNECT), "empty list denies");
	policy_allowlist_free(&al);
	return 0;
}
