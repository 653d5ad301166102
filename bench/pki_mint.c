/*
 * bench/pki_mint: how long the interception CA takes to mint a leaf for a
 * first-seen host (SPEC 4.12: under 1 ms), and to find a cached one.
 * Prints "mint_us_median X mint_us_p99 Y cached_ns Z ca_setup_ms W", then
 * the same first-seen cost with the leaf's server context (what a
 * handshake for a new host waits for: mint + SSL_CTX, made once per leaf)
 * and a cached context's lookup.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "policy/plan.h"
#include "policy/route.h"
#include "proxy/tls/intercept.h"
#include "proxy/tls/pki.h"

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds of this thread: what a mint costs whatever the load. */
static double
cpu(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* First-seen host through proxy_tls_intercept_ctx: mint + SSL_CTX. */
static int
ctx_bench(void)
{
	struct plan		 plan = { 0 };
	struct route_def	*def = policy_route_def_new("*.bench.test");
	struct intercept_tls	*t;
	struct errbuf		 e = { 0 };
	double			 t0, c0, us[1000], cached, ccpu;
	char			 name[64];
	int			 i, n = 1000;

	plan.tls_intercept = TLS_INTERCEPT_CREDENTIALS;
	plan.plain = &def;
	plan.nplain = 1;
	if ((t = proxy_tls_intercept_tls_new(&plan, NULL, &e)) == NULL) {
		fprintf(stderr, "pki_mint: %s\n", errbuf_msg(&e));
		return 1;
	}
	c0 = cpu();
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "c%d.bench.test", i);
		t0 = now();
		if (proxy_tls_intercept_ctx(t, name, &e) == NULL)
			return 1;
		us[i] = (now() - t0) * 1e6;
	}
	ccpu = (cpu() - c0) / n * 1e6;
	qsort(us, (size_t)n, sizeof(us[0]), cmp);
	t0 = now();
	for (i = 0; i < 100000; i++)
		(void)proxy_tls_intercept_ctx(t, "c999.bench.test", &e);
	cached = (now() - t0) / 100000 * 1e9;
	printf("with_ctx_us_median %.0f with_ctx_us_p99 %.0f "
	    "with_ctx_cpu_us_mean %.0f ctx_cached_ns %.0f\n", us[n / 2],
	    us[n * 99 / 100], ccpu, cached);
	proxy_tls_intercept_tls_free(t);
	policy_route_def_free(def);
	return 0;
}

int
main(void)
{
	struct strv	 hosts = { 0 };
	struct errbuf	 e = { 0 };
	struct pki	*p;
	double		 t0, c0, setup, us[2000], cached, mcpu;
	char		 name[64];
	int		 i, n = 2000;

	strv_push(&hosts, "*.bench.test");
	t0 = now();
	if ((p = proxy_tls_pki_new(&hosts, true, 0, &e)) == NULL) {
		fprintf(stderr, "pki_mint: %s\n", errbuf_msg(&e));
		return 1;
	}
	setup = (now() - t0) * 1e3;
	c0 = cpu();
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "h%d.bench.test", i);
		t0 = now();
		if (proxy_tls_pki_leaf(p, name, &e) == NULL)
			return 1;
		us[i] = (now() - t0) * 1e6;
	}
	mcpu = (cpu() - c0) / n * 1e6;
	qsort(us, (size_t)n, sizeof(us[0]), cmp);
	t0 = now();
	for (i = 0; i < 100000; i++)
		(void)proxy_tls_pki_leaf(p, "h1999.bench.test", &e);
	cached = (now() - t0) / 100000 * 1e9;
	printf("mint_us_median %.0f mint_us_p99 %.0f mint_cpu_us_mean %.0f "
	    "cached_ns %.0f ca_setup_ms %.2f\n", us[n / 2], us[n * 99 / 100],
	    mcpu, cached, setup);
	proxy_tls_pki_free(p);
	strv_free(&hosts);
	return ctx_bench();
}
