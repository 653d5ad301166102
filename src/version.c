#include "version.h"

#include <dlfcn.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "creds/source.h"
#include "sandbox/landlock.h"
#include "sandbox/probe.h"
#include "util/tlslib.h"

static const char *
yesno(bool b)
{
	return b ? "yes" : "no";
}

/* Whether the soname the keyring source would dlopen is there. */
static bool
version_libsecret(void)
{
	void	*h;

	if ((h = dlopen(CREDS_LIBSECRET, RTLD_LAZY | RTLD_LOCAL)) == NULL)
		return false;
	dlclose(h);
	return true;
}

void
version_print(FILE *fp, bool verbose)
{
	struct probe_seccomp	sc;
	int			abi;

	fprintf(fp, "keyhole %s\n", KEYHOLE_VERSION);
	if (!verbose)
		return;
	if ((abi = sandbox_landlock_abi()) > 0)
		fprintf(fp, "landlock: ABI %d\n", abi);
	else
		fprintf(fp, "landlock: not available\n");
	sandbox_probe_seccomp(&sc);
	if (sc.user_notif && !sc.listener)
		fprintf(fp, "seccomp: user notification yes, ADDFD unknown, "
		    "sync wake-up flag unknown (a filter above this process "
		    "holds the listener)\n");
	else
		fprintf(fp, "seccomp: user notification %s, ADDFD %s, "
		    "sync wake-up flag %s\n", yesno(sc.user_notif),
		    yesno(sc.addfd), yesno(sc.sync_wakeup));
	fprintf(fp, "openssl: %s", OpenSSL_version(OPENSSL_VERSION));
	/* Where it came from, in the release build that loads it. */
	if (tlslib_path()[0] != '\0')
		fprintf(fp, " (loaded from %s)", tlslib_path());
	fputc('\n', fp);
	fprintf(fp, "libsecret: %s (%s, loaded with dlopen when a keyring "
	    "credential is used)\n", version_libsecret() ? "found" :
	    "not found", CREDS_LIBSECRET);
}
