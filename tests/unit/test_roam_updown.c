/* How roam up and roam down name their interface (src/roam/up.c,
 * updown_target): wg-quick's character set on top of the kernel's rule,
 * because the name reaches the hooks' shell command lines. */
#include <stdlib.h>

#include "updown.h"

#include "test.h"

static bool target(const char *arg, const char *want_ifname, const char *want_config)
{
	char ifname[UAPI_IFNAME_MAX] = "", err[256];
	char *config = NULL;
	bool ok = updown_target(arg, ifname, &config, err, sizeof(err));

	if (ok)
		ok = want_ifname && !strcmp(ifname, want_ifname) && !strcmp(config, want_config);
	else
		ok = !want_ifname && err[0];
	free(config);
	return ok;
}

static void test_names(void)
{
	CHECK(target("wg0", "wg0", "/etc/wireguard/wg0.conf"));
	CHECK(target("fifteen-chars-x", "fifteen-chars-x", "/etc/wireguard/fifteen-chars-x.conf"));
	CHECK(target("/tmp/x/a_b=c+d.e.conf", "a_b=c+d.e", "/tmp/x/a_b=c+d.e.conf"));
	CHECK(target("", NULL, NULL) && target("sixteen-chars-xx", NULL, NULL));
	CHECK(target(".", NULL, NULL) && target("..", NULL, NULL) && target("/tmp/...conf", NULL, NULL));
	/* Kernel-valid but not wg-quick's: '@', '$', ';' would reach sh -c. */
	CHECK(target("wg@0", NULL, NULL) && target("wg$0", NULL, NULL) && target("/tmp/a;b.conf", NULL, NULL));
	CHECK(target("a b", NULL, NULL) && target("a:b", NULL, NULL));
}

int main(void)
{
	RUN(test_names);
	return test_finish("test_roam_updown");
}
