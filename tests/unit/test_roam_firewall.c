/* The nft script of a full tunnel's table (src/roam/firewall.c): wg-quick's
 * three chains and rules, for the family's addresses only, in a table named
 * after the interface with the characters nft refuses replaced. */
#include <sys/socket.h>

#include "firewall.h"
#include "test.h"

static void test_names(void)
{
	char name[FIREWALL_TABLE_MAX];
	int family;

	firewall_table_name("wg0", name);
	CHECK(!strcmp(name, "roam-wg0"));
	firewall_table_name("a=b+c.d-e_f", name);
	CHECK(!strcmp(name, "roam-a_b_c.d-e_f"));
	firewall_table_name("fifteen-chars-x", name);
	CHECK(!strcmp(name, "roam-fifteen-chars-x"));
	CHECK(firewall_family_parse("ip", &family) && family == AF_INET);
	CHECK(firewall_family_parse("ip6", &family) && family == AF_INET6);
	CHECK(!firewall_family_parse("inet", &family));
}

static void test_script(void)
{
	struct ip_prefix addrs[3];
	char *s;

	ip_prefix_parse(&addrs[0], "198.18.0.1/24", false);
	ip_prefix_parse(&addrs[1], "fd00:2::1/64", false);
	ip_prefix_parse(&addrs[2], "198.18.1.1/32", false);
	s = firewall_script(AF_INET, "roam-wg0", "wg0", 51820, addrs, 3);
	CHECK(!strncmp(s, "add table ip roam-wg0\ndelete table ip roam-wg0\nadd table ip roam-wg0\n", 67));
	CHECK(strstr(s, "add chain ip roam-wg0 preraw { type filter hook prerouting priority -300; }\n"));
	CHECK(strstr(s, "add chain ip roam-wg0 premangle { type filter hook prerouting priority -150; }\n"));
	CHECK(strstr(s, "add chain ip roam-wg0 postmangle { type filter hook postrouting priority -150; }\n"));
	CHECK(strstr(s, "add rule ip roam-wg0 preraw iifname != \"wg0\" ip daddr 198.18.0.1 fib saddr type != local drop\n"));
	CHECK(strstr(s, "ip daddr 198.18.1.1 fib"));
	CHECK(!strstr(s, "fd00"));
	CHECK(strstr(s, "add rule ip roam-wg0 postmangle meta l4proto udp mark 51820 ct mark set mark\n"));
	CHECK(strstr(s, "add rule ip roam-wg0 premangle meta l4proto udp meta mark set ct mark\n"));
	free(s);
	s = firewall_script(AF_INET6, "roam-wg0", "wg0", 7, addrs, 3);
	CHECK(strstr(s, "add rule ip6 roam-wg0 preraw iifname != \"wg0\" ip6 daddr fd00:2::1 fib saddr type != local drop\n"));
	CHECK(!strstr(s, "198.18"));
	CHECK(strstr(s, "mark 7 ct mark set mark"));
	free(s);
}

int main(void)
{
	RUN(test_names);
	RUN(test_script);
	return test_finish("test_roam_firewall");
}
