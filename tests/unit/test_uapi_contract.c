/* The one interface-name rule roamd and roam share (src/common/
 * uapi_contract.c): the kernel's dev_valid_name, which also keeps a socket
 * file inside the socket directory. */
#include "uapi_contract.h"
#include "test.h"

static bool ok(const char *name)
{
	return uapi_ifname_valid(name, strlen(name));
}

static void test_ifname_rule(void)
{
	CHECK(ok("wg0") && ok("a") && ok("fifteen-chars-x") && ok("wg.0_=+@-") && ok("..."));
	CHECK(!ok("") && !ok("sixteen-chars-xx") && !ok(".") && !ok(".."));
	CHECK(!ok("a/b") && !ok("a:b") && !ok("a b") && !ok("a\tb") && !ok("a\nb") && !ok("a\rb"));
	/* The length is the caller's: a NUL inside it is not a name. */
	CHECK(!uapi_ifname_valid("a\0b", 3) && uapi_ifname_valid("wg0.conf", 3));
}

int main(void)
{
	RUN(test_ifname_rule);
	return test_finish("test_uapi_contract");
}
