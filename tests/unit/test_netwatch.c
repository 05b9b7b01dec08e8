/* netwatch's rtnetlink parser (src/roamd/netwatch.c, netwatch_parse): the
 * cases its fuzz target (tests/fuzz/fuzz_netlink.c) found. */
#include <linux/rtnetlink.h>

#include "netwatch.h"
#include "test.h"

/* Found by fuzz_netlink: a message whose length field is above 2 GiB
 * passed libmnl's check (it compares the length as a signed int), so the
 * parser read its attributes past the datagram and then stepped ~4 GiB
 * ahead for the next message. Such a message ends the datagram; what came
 * before it still counts. */
static void test_length_beyond_datagram(void)
{
	char err[256];
	struct netwatch *nw = netwatch_open(0, false, err, sizeof(err));
	CHECK(nw != NULL);
	if (!nw)
		return;
	uint32_t buf[16] = {0};
	struct nlmsghdr *rule = (struct nlmsghdr *)buf;
	rule->nlmsg_len = NLMSG_LENGTH(12);	/* struct fib_rule_hdr */
	rule->nlmsg_type = RTM_NEWRULE;
	struct nlmsghdr *bad = (struct nlmsghdr *)((char *)buf + NLMSG_ALIGN(rule->nlmsg_len));
	bad->nlmsg_len = 0xfffffff0;
	bad->nlmsg_type = RTM_NEWROUTE;
	uint32_t before = netwatch_generation(nw);
	netwatch_parse(nw, buf, sizeof(buf), 1000000000);
	/* Real events may move it further; the rule alone moves it at all. */
	CHECK(netwatch_generation(nw) != before);
	netwatch_close(nw);
}

int main(void)
{
	RUN(test_length_beyond_datagram);
	return test_finish("test_netwatch");
}
