/*
 * OpenSSL's x86_64 assembly puts a call to OPENSSL_cpuid_setup in the
 * executable's .init section, so the statically linked release binary
 * probes the CPU before main at every start, proxy or not.  In a VM every
 * cpuid instruction traps to the hypervisor (7 us each measured here, and
 * the probe makes several): about 50 us of every `keyhole run`, most of
 * which never touches OpenSSL (bench/README.md).
 *
 * The release binary is linked with --wrap=OPENSSL_cpuid_setup (Makefile,
 * static link only): both callers come here, the .init call first, before
 * anything else in the program has run, and it is skipped.  The other
 * caller is OpenSSL's own initialisation (ossl_init_base, under
 * OPENSSL_init_crypto, which every EVP, SSL and RAND entry point runs
 * first): the probe happens there, once, when OpenSSL is first used.
 * Until then OPENSSL_ia32cap_P is zero, which OpenSSL reads as "no
 * optional instructions": a low-level routine called before any
 * initialisation would take its plain code path, slower but correct.
 *
 * With shared libraries (the sanitizer build) libcrypto.so probes in its
 * own constructor and this file is not linked.  Where the release build
 * keeps OpenSSL in keyhole-tls.so (util/tlslib.h), this file is linked
 * there: the .init call then comes when the library is loaded, at
 * OpenSSL's first use, and is skipped all the same.
 */
#include <stdbool.h>

void	__real_OPENSSL_cpuid_setup(void);
void	__wrap_OPENSSL_cpuid_setup(void);

static bool	init_call_skipped;

void
__wrap_OPENSSL_cpuid_setup(void)
{
	if (!init_call_skipped) {
		init_call_skipped = true;
		return;
	}
	__real_OPENSSL_cpuid_setup();
}
