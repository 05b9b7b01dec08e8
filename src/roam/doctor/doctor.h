/* roam doctor: the fast diagnosis playbook of docs/roaming.md §6, automated.
 *
 * doctor.c observes (the daemon's state, the host, pings, a capture);
 * doctor_judge.c decides: each judge turns observations into one finding,
 * PASS / WARN / FAIL / SKIP with the evidence it saw and the decision it
 * suggests, in the "Meaning / Decision" manner of that playbook. The judges are pure,
 * so the unit tests can put each one in front of the situations it must
 * tell apart.
 *
 * The checks, in the playbook's order (their ids are stable, for scripts):
 *   daemon      the daemon answers, the link is up, the UDP port is bound
 *   udp         UDP from the peers reaches this host, and the daemon
 *   handshake   per peer: fresh, or why not
 *   endpoint    per peer: where it is now and how it got there
 *   keepalive   per peer: set on the side behind NAT, below the NAT's timeout
 *   forwarding  forwarding, the forward filter and a source NAT when peers
 *               route through here
 *   routes      the AllowedIPs route into the interface
 *   datapath    per live peer: pings through the tunnel come back, or why
 *               not, from the daemon's counters meanwhile
 *   mtu         per live peer: the largest packet through, against the MTU
 *   dns         per DNS server: inside the AllowedIPs and answering
 *   clock       the system clock is synchronised
 * A check that cannot be judged because an earlier one failed for the same
 * peer is SKIP: the playbook says to stop blaming MTU or DNS while UDP or
 * the handshake is broken, so doctor names one cause, not its echoes. */
#ifndef ROAM_DOCTOR_H
#define ROAM_DOCTOR_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "hostinfo.h"
#include "icmp_watch.h"
#include "probe.h"
#include "show.h"
#include "uapi_client.h"

enum doctor_status { DOCTOR_PASS, DOCTOR_WARN, DOCTOR_FAIL, DOCTOR_SKIP };

enum { DOCTOR_TEXT_MAX = 640, DOCTOR_FIGURES_MAX = 8 };

/* A number the evidence is built on, for --json users. */
struct doctor_figure {
	const char *name;
	double value;
};

struct doctor_finding {
	const char *check;
	char subject[64];		/* "" (the interface), "dns 198.18.0.2" */
	char peer[KEY_B64_LEN + 1];	/* "" unless about one peer */
	enum doctor_status status;
	char evidence[DOCTOR_TEXT_MAX];
	char decision[DOCTOR_TEXT_MAX];	/* "" when there is nothing to do */
	struct doctor_figure figures[DOCTOR_FIGURES_MAX];
	size_t n_figures;
	/* The cause a WARN or FAIL names, as a stable id for scripts
	 * (docs/doctor-json.md lists them); NULL when none. */
	const char *cause;
	/* datapath, mtu: where the address pinged came from (doctor_probe_address); NULL otherwise. */
	const char *probe_target_source;
};

struct doctor_report {
	char ifname[UAPI_IFNAME_MAX];
	char daemon[32];		/* the daemon's program name, "" if none */
	int pid;			/* 0 if unknown */
	char public_key[KEY_B64_LEN + 1];	/* the interface's */
	uint16_t listen_port;		/* the interface's UDP port, 0 unknown */
	struct doctor_finding *v;
	size_t n;
};

const char *doctor_status_name(enum doctor_status status);
/* A new finding at the end of the report, status PASS, texts empty. */
struct doctor_finding *doctor_add(struct doctor_report *r, const char *check, const uint8_t *peer_key);
void doctor_evidence(struct doctor_finding *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void doctor_decision(struct doctor_finding *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void doctor_figure(struct doctor_finding *f, const char *name, double value);
size_t doctor_count(const struct doctor_report *r, enum doctor_status status);
void doctor_report_free(struct doctor_report *r);

void doctor_print_text(FILE *out, const struct doctor_report *r);
void doctor_print_json(FILE *out, const struct doctor_report *reports, size_t n);

/* ---- judges ------------------------------------------------------------ */

/* The count of one drop cause in a list of them (0 if absent). */
uint64_t drop_count(const struct uapi_drop *drops, size_t n, const char *reason);

struct daemon_observation {
	int get_error;			/* 0, or -errno of asking the daemon */
	char get_reason[160];
	char socket_path[UAPI_SOCKET_PATH_MAX];
	/* When asking failed: a live process that holds the socket (0: none),
	 * and its state letter from /proc/PID/stat ('T' stopped, 'D' in the
	 * kernel, 'Z', ...; 0 unknown). A holder that does not answer hangs. */
	int holder_pid;
	char holder_state;
	const struct uapi_device *dev;	/* NULL if get_error */
	int link_error;			/* of reading the link's flags */
	unsigned link_flags;
	int binds_error;
	struct host_udp_binds binds;
};
/* Judges daemon; returns true when it failed (nothing else can then be
 * examined). */
bool judge_daemon(struct doctor_report *r, const struct daemon_observation *o);

/* What happened while doctor watched (capture_run) — only when a peer had no
 * fresh handshake, for an up-to-date session says enough. */
struct watch_observation {
	bool watched;			/* a capture ran */
	int capture_error;		/* could not watch: -errno */
	struct capture_result capture;
	bool counted;			/* the daemon has packet counters (roamd) */
	uint64_t received;		/* datagrams the daemon took in meanwhile: packets + drops */
	struct uapi_drop *drops;	/* device drop counters' growth meanwhile */
	size_t n_drops;
	bool sending_failed;		/* the sending check failed: udp is not judged */
	bool icmp_watched;		/* ICMP errors were read meanwhile */
	struct icmp_seen icmp;		/* those about our own datagrams */
	/* The longest a silent peer may take to try again, as far as the
	 * daemon can tell (its keepalive, the handshake retry); more than
	 * the watch lasted means silence proves little. 0: nothing known. */
	uint64_t peer_retry_ms;
	/* Per peer of the device as judged (after the watch): this side has
	 * its Endpoint and reaches out to it. NULL: unknown. */
	const bool *initiates;
	/* A peer's Endpoint that routes into this interface itself (see
	 * doctor_endpoint_loop); "" for none. */
	char looped_endpoint[UAPI_ENDPOINT_MAX];
	/* The loop comes from the datagrams losing the daemon's fwmark
	 * (doctor_endpoint_mark_lost), and the rule that clears it ("" not
	 * found). */
	bool mark_lost;
	char mark_rule[320];
	/* Datagrams arrived and none reached the daemon: a DNAT/redirect of
	 * the listen port in the ruleset, "" for none. */
	char redirect_rule[160];
	/* A full tunnel's policy rule `not fwmark M lookup T` (T: the table
	 * with the routes into this interface) whose M is not the daemon's
	 * fwmark (a `wg setconf` from a config without FwMark reset it):
	 * rule_fwmark M, rule_table T (0: no such rule), and whether roam's
	 * ledger (/run/roam) records M too. */
	uint32_t rule_fwmark, rule_table;
	bool ledger_fwmark;
};

/* The address of an endpoint ("198.51.100.2:51820", "[fd00::2]:51820"),
 * without a link-local scope. */
bool doctor_endpoint_address(const char *endpoint, struct ip_prefix *out);
/* Finds a peer whose Endpoint routes into interface ifindex itself, as the
 * daemon's datagrams (with its fwmark) would: copies it to endpoint. */
bool doctor_endpoint_loop(const struct uapi_device *dev, int ifindex, char endpoint[UAPI_ENDPOINT_MAX]);
/* A full tunnel whose daemon's datagrams lose their fwmark: a peer's
 * Endpoint leaves with the mark but routes into interface ifindex without
 * it, and either a route chain on the output hook sets another mark (the
 * rule, in rule) or roamd learnt a path MTU from this host itself far below
 * the way out (the loop's growth; rule ""). Copies the Endpoint. */
bool doctor_endpoint_mark_lost(const struct uapi_device *dev, int ifindex, char endpoint[UAPI_ENDPOINT_MAX],
			       char *rule, size_t len);

/* When icmp's latest error is host unreachable from one of this host's own
 * addresses, fills icmp->next_hop: the route to the target the daemon's
 * datagrams (with fwmark) take, and the rule that chose its table. */
void doctor_locate_next_hop(struct icmp_seen *icmp, uint32_t fwmark);

/* Judges sending: did this host's own kernel refuse datagrams to the peers
 * (roamd's send_* drops: a local firewall rule, no route)? Looks at their
 * growth while doctor watched, or, unwatched, at their totals when no peer
 * has a fresh handshake. Returns true when it failed: that is the cause,
 * and later checks would only blame the network. */
bool judge_sending(struct doctor_report *r, const struct uapi_device *dev, const struct watch_observation *w,
		   uint64_t now_ms);
/* Names what an ICMP error about our datagrams means (port unreachable,
 * prohibited, unreachable host): evidence, decision, cause; status FAIL.
 * endpoint_learned: the peer's address came from its own packets (no
 * Endpoint here), so a closed port is the peer's doing, not a typo here. */
void doctor_icmp_cause(struct doctor_finding *f, const struct icmp_seen *icmp, bool endpoint_learned);
/* Judges udp; returns true when it failed (later per-peer checks of peers
 * without a fresh handshake are then SKIP). */
bool judge_udp(struct doctor_report *r, const struct uapi_device *dev, const struct watch_observation *w,
	       uint64_t now_ms);

struct peer_observation {
	const struct uapi_peer *peer;
	enum handshake_verdict verdict;
	uint64_t handshake_age_ms;
	bool initiates;			/* this side has the peer's Endpoint (in a config, or by the heuristic) */
	const char *initiates_why;	/* "the config's Endpoint", ... */
	bool nudged;			/* doctor sent it a packet to start a handshake */
	/* No UDP reaches the daemon, and the check that said so ("udp",
	 * "sending", "rpfilter": a SKIP must point at a check in the
	 * report); NULL when none failed. */
	const char *udp_failed;
};
/* What a peer's session counters say, for the causes both the handshake
 * and the datapath judges can name (judge_session.c). */
struct session_evidence {
	const struct uapi_peer *peer;
	bool initiates;			/* this side has the peer's Endpoint */
	bool sent_to_peer;		/* doctor or the daemon sent it something meanwhile */
	const struct icmp_seen *icmp;	/* ICMP errors about our datagrams meanwhile, or NULL */
	uint64_t peer_data_arrived;	/* data datagrams from the peer meanwhile (captured) */
	uint64_t response_decrypt_failed;	/* handshake_decrypt's growth meanwhile */
	uint16_t listen_port;
};
/* The peer keeps initiating and never confirms our responses: a preshared
 * key mismatch, or our direction of the path lost (one_way_to_peer). Adds
 * evidence, decision, cause and FAIL; false when it does not apply. */
bool doctor_responses_cause(struct doctor_finding *f, const struct session_evidence *s);
/* The decision for a response to our initiation that failed to decrypt
 * (the public keys pair up, so the preshared key differs), by what this
 * side has: a PresharedKey to compare, or none while the peer has one. */
void doctor_psk_decision(struct doctor_finding *f, const struct uapi_peer *peer);
/* The same with one unconfirmed response, for data that goes unanswered:
 * the peer re-initiated, so it did not take our answer (not peer_drops). */
bool doctor_response_pending_cause(struct doctor_finding *f, const struct session_evidence *s);
/* A peer that connects to this host fell silent and our datagrams to its
 * learned endpoint bounce or vanish: its NAT forgot it (no keepalive). */
bool doctor_nat_expired_cause(struct doctor_finding *f, const struct session_evidence *s);

/* Each returns true when the peer's later checks should be SKIP. */
bool judge_handshake(struct doctor_report *r, const struct peer_observation *p, const struct watch_observation *w);
void judge_endpoint(struct doctor_report *r, const struct peer_observation *p, bool skipped, uint64_t now_ms);
void judge_keepalive(struct doctor_report *r, const struct peer_observation *p);
/* The PersistentKeepalive to suggest for a peer whose keepalive is now
 * `present` seconds (0 off, or unknown: the peer's): the daemon's
 * suggestion (else the customary 25 s) when it is 10 s or more, below the
 * NAT idle timeout measured and below present; else that timeout less a
 * margin, at least 10 s. 0 when no value of 10 s or more below present
 * and the NAT's timeout would do: never the one set. */
unsigned doctor_keepalive_suggestion(const struct uapi_peer *peer, unsigned present);

/* Do the peers route through this host? True when every peer's AllowedIPs
 * are single addresses (clients of a hub), rather than networks behind
 * the peer (this host is their client, or one end of a site link). */
bool doctor_peers_route_through(const struct uapi_device *dev, bool *any_ipv6);

/* Why the clients' IPv6 must be forwarded beyond this host, into why: an
 * IPv6 source NAT (ipv6_nat_rule, "" none), or a client's IPv6 address that
 * is globally routable (not unique-local or link-local), which the world
 * can route back. False with why "" when neither: IPv6 then lives only
 * inside the tunnel, and forwarding it off is a choice, not a fault. */
bool doctor_ipv6_forwarding_needed(const struct uapi_device *dev, const char *ipv6_nat_rule, char *why, size_t len);

struct forwarding_observation {
	bool hub;
	bool ipv6_clients;		/* the peers have IPv6 addresses */
	char ipv6_needed_why[320];	/* doctor_ipv6_forwarding_needed's why, "" not needed */
	int ipv4, ipv6;			/* sysctl values, -1 unknown */
	int nat;			/* 1 a source NAT rule for egress found, 2 only for other
					 * interfaces, 0 none, -errno: no ruleset */
	char nat_rule[160];
	char egress[IF_NAMESIZE];	/* the default route's interface; "" none */
	bool clients_private;		/* the clients' IPv4 addresses are private or test ones */
	int forward_drop;		/* 1 a forward chain drops the tunnel, 0 not, -errno */
	char forward_rule[256];
	/* An IPv4 interface that refuses to forward although ip_forward is 1:
	 * the tunnel's or the egress's net.ipv4.conf.X.forwarding, "" none. */
	char interface_forwarding_off[64 + IF_NAMESIZE];
	int input_drop;			/* 1 an input chain drops the tunnel, 0 not, -errno */
	char input_rule[256];
	bool replies_dropped;		/* a forward chain passes the clients' traffic, not the replies */
	char replies_rule[320];
	bool notrack;			/* a notrack rule takes in the clients: no NAT for them */
	char notrack_rule[256];
	/* The address nat_rule writes, when it is one ("" masquerade), and
	 * whether this host has it: 1 yes, 0 no, -errno unknown. */
	char snat_address[64];
	int snat_address_local;
	/* Clients' flows to a host off another interface of this host that
	 * left without a source NAT and stay [UNREPLIED] (connection
	 * tracking), the host answering a ping from this host's address there
	 * (lan_address) and not one from the tunnel's: it has no route back
	 * to tunnel_net. 0: not seen (doctor_observe_lan_replies). */
	uint64_t lan_unreplied;
	/* Why (lan_unreplied set): no route back as above (the default);
	 * the host answers neither ping and its neighbour entry here (or its
	 * gateway's, lan_neigh) is PERMANENT, unresolved or none; or it
	 * answers both pings while lan_client's flows stay unanswered. */
	enum lan_fault { LAN_NO_ROUTE_BACK, LAN_HOST_UNREACHABLE, LAN_IGNORES_CLIENT } lan_fault;
	char lan_client[IP_PREFIX_STRLEN];
	char lan_neigh[IP_PREFIX_STRLEN];
	char lan_neigh_state[16];
	char lan_lladdr[64];
	char lan_host[IP_PREFIX_STRLEN];
	char lan_dev[IF_NAMESIZE];
	char lan_address[IP_PREFIX_STRLEN];
	char tunnel_net[IP_PREFIX_STRLEN];
	char tunnel_address[IP_PREFIX_STRLEN];	/* the ping's unanswered source */
};
void judge_forwarding(struct doctor_report *r, const struct forwarding_observation *o);
/* The interface's own addresses with their prefix lengths; free *out. */
size_t doctor_own_addresses(const char *ifname, struct ip_prefix **out);
/* Fills o's lan_* fields (lan_replies.c): own are the tunnel interface's
 * addresses, clients the peers' AllowedIPs. IPv4. */
void doctor_observe_lan_replies(int tunnel_ifindex, const struct ip_prefix *own, size_t n_own,
				const struct ip_prefix *clients, size_t n_clients, struct forwarding_observation *o);

struct route_miss {
	char prefix[IP_PREFIX_STRLEN];
	char goes[48];			/* "eth0 (table main)", "no route" */
	bool overridden;		/* an edge host, DNS server or probe address */
};
enum { ROUTES_ADDRESSES_SHOWN = 4 };
struct routes_observation {
	size_t checked, total, n_peers;
	struct route_miss *misses;	/* the first few */
	size_t n_misses, n_shown;
	size_t n_overridden;		/* prefixes whose own route is there but not for all inside */
	/* Missed prefixes that are (inside) a network this host is connected
	 * to on another interface: its own LAN. Routing them into the tunnel
	 * would cut the host off its gateway; the first one, and where. */
	size_t n_local_networks;
	char local_prefix[IP_PREFIX_STRLEN];
	char local_dev[IF_NAMESIZE];
	char local_subnet[IP_PREFIX_STRLEN];	/* the host's address there, with its prefix length */
	/* That address lies in this tunnel's own network (an Address of this
	 * interface, or the config's, whose prefix holds it): another
	 * interface, often a leftover tunnel, holds the tunnel's network and
	 * the replies to the peers go there. tunnel_network: the Address; ""
	 * when it is a real LAN. local_kind: host_link_is_tunnel's kind. */
	char tunnel_network[IP_PREFIX_STRLEN];
	char local_kind[192];
	/* A full tunnel (roam up's, wg-quick's): the daemon marks its datagrams
	 * with fwmark, the AllowedIPs' routes are in table; which of its two
	 * policy rules are gone, for rule_family first (AF_INET, AF_INET6):
	 *   not fwmark M table T              (unmarked traffic to table T)
	 *   table main suppress_prefixlength 0 (main's own routes first) */
	bool not_marked_rule_missing, main_first_rule_missing;
	int rule_family;
	uint32_t fwmark, table;
	/* Without the second: a network of the main table on another
	 * interface (its LAN), which now goes into the tunnel; "" none. */
	char lan_prefix[IP_PREFIX_STRLEN];
	char lan_dev[IF_NAMESIZE];
	/* net.ipv6.conf.IF.disable_ipv6 = 1 on a tunnel with IPv6 (an Address
	 * or AllowedIPs): the kernel took its IPv6 addresses and refuses IPv6
	 * routes into it, so route_missing's fix would fail. The config's
	 * first IPv6 Address, "" when unknown. */
	bool ipv6_disabled;
	char ipv6_address[IP_PREFIX_STRLEN];
	/* The config's Addresses that are not on the interface (a network
	 * manager flushed them): the routes that went with them are gone
	 * too, and adding those back (route_missing's fix) leaves this host's
	 * own packets without their source. The first few, and how many. */
	char addresses_missing[ROUTES_ADDRESSES_SHOWN][IP_PREFIX_STRLEN];
	size_t n_addresses_missing;
};
void judge_routes(struct doctor_report *r, const struct routes_observation *o);

/* A few small pings to a live peer through the tunnel, with the daemon's
 * counters read before and after: when they go unanswered although the
 * handshake is fresh, the counters' growth says where they died. */
struct datapath_observation {
	/* The device: the peer whose AllowedIPs hold a source refused from
	 * this one is named (allowed_ips_conflict); NULL unknown. */
	const struct uapi_device *dev;
	bool has_address;
	struct ip_prefix address;
	const char *target_source;	/* doctor_probe_address's answer */
	const char *not_judged;		/* "routes", "sending": an earlier check failed; else NULL */
	int error;			/* pinging failed: -errno */
	unsigned sent, answered;
	uint64_t rtt_us;
	/* The pings went unanswered: a TCP connection to the same address
	 * was tried (tcp_probe), and the host answered it (a ping-deaf host
	 * whose tunnel works both ways). */
	bool tcp_tried, tcp_answered;
	uint16_t tcp_port;
	/* TCP unanswered too: one query to a DNS server of the tunnel inside
	 * the peer's AllowedIPs (same family, routed into this interface) was
	 * tried, and it answered (the tunnel carries both ways). */
	bool dns_tried, dns_answered;
	struct ip_prefix dns_server;
	bool counted;			/* two readings of the daemon's counters */
	uint64_t tx_delta, rx_delta;	/* the peer's packets meanwhile */
	uint64_t received_delta;	/* datagrams the daemon took in meanwhile, from any peer */
	struct uapi_drop *drops;	/* the peer's drop counters' growth meanwhile, and unknown_index's */
	size_t n_drops;
	struct icmp_seen icmp;		/* ICMP errors about our datagrams meanwhile */
	bool captured;			/* the UDP port was watched meanwhile */
	struct capture_result capture;	/* what reached this host for it */
	uint64_t decrypt_delta;		/* the device's handshake_decrypt growth meanwhile */
	uint16_t listen_port;
	/* Our data bounced off the peer's old port: handshake messages this
	 * host refused meanwhile ("bad_mac1": made for another public key;
	 * "unknown_peer"), and how many; NULL when none came. */
	const char *refused_reason;
	uint64_t refused;
	/* Datagrams to the port from the peer's endpoint address (any port: a
	 * NAT may have moved it) that the capture saw meanwhile, and whether
	 * any peer at that address got packets into the daemon meanwhile. */
	uint64_t endpoint_arrived;
	bool endpoint_reached_daemon;
	char redirect_rule[160];	/* a DNAT/redirect of the listen port, "" none */
};
/* How much longer to read ICMP errors after the pings, elapsed_ms after
 * the first: a router that cannot resolve the peer's old address (ARP)
 * reports host unreachable about 3 s after the send, past the pings' 2.1 s.
 * 0 when something answered or an error came already. */
enum { DATAPATH_ICMP_WAIT_MS = 3500 };
unsigned datapath_icmp_grace_ms(uint64_t elapsed_ms, const struct datapath_observation *o);
/* Returns true when the data path failed (the peer's mtu and dns are then
 * SKIP). */
bool judge_datapath(struct doctor_report *r, const struct peer_observation *p, bool skipped,
		    const struct datapath_observation *o);

/* A peer's datapath failed, pinging an address of probed_family (0: none
 * pinged): does that say the way to its address of family is broken too?
 * Not for the other family (IPv6 off on the peer, say): a DNS server there
 * is judged on its own. */
bool datapath_failure_covers(int probed_family, int family);

/* What doctor may ping a peer at: the addresses named with --probe, the
 * DNS servers (the config's DNS=, or --dns) and this interface's own
 * addresses with their prefix lengths. */
struct probe_candidates {
	const struct ip_prefix *given;
	size_t n_given;
	const struct ip_prefix *dns;
	size_t n_dns;
	const struct ip_prefix *own;
	size_t n_own;
};
/* A peer's address to ping through the tunnel, and where it came from (the
 * JSON's probe_target_source), or NULL when there is none: a given one
 * inside its AllowedIPs ("--probe"); else its single-address AllowedIPs
 * entry, IPv4 first ("allowed_ips"); else, for a peer whose AllowedIPs
 * hold only networks (a full tunnel, 0.0.0.0/0), a guess from what the
 * config says: a DNS server inside them ("dns"), else the first host of
 * this interface's own subnet when that lies inside them and is not ours
 * ("address_prefix": servers are .1 by habit). */
const char *doctor_probe_address(const struct uapi_peer *peer, const struct probe_candidates *c,
				 struct ip_prefix *out);
/* A target doctor guessed (dns, address_prefix): its silence may only mean
 * no host is there, so it fails only where the counters agree. */
bool doctor_probe_target_guessed(const char *source);
/* Sets f's probe_target_source, and says so in its evidence when guessed. */
void doctor_note_probe_target(struct doctor_finding *f, const char *source);

/* The peers doctor pings at most per run, besides those named by --probe:
 * each search takes a dozen round trips, and a hub can have thousands. */
enum { DOCTOR_MTU_PEERS_MAX = 8 };

struct mtu_observation {
	const char *not_judged;		/* "datapath" when small packets failed; else NULL */
	bool ping_ignored;		/* the peer answers TCP but not ping (datapath's ping_ignored) */
	bool over_limit;		/* not probed: DOCTOR_MTU_PEERS_MAX reached */
	bool has_address;
	struct ip_prefix address;
	const char *target_source;	/* doctor_probe_address's answer */
	int error;			/* could not probe: -errno */
	bool reachable;
	uint64_t rtt_us;
	unsigned interface_mtu;
	int largest;			/* bytes of the largest IP packet through */
	unsigned probes;
	/* The peer as roamd told it after the probes (NULL: not read again):
	 * its path MTU may have changed meanwhile (doctor's large pings are
	 * what makes it search), and the verdict follows what it knows now,
	 * so two runs on the same path agree. */
	const struct uapi_peer *path_after;
};
void judge_mtu(struct doctor_report *r, const struct peer_observation *p, bool skipped,
	       const struct mtu_observation *o);

struct dns_observation {
	struct ip_prefix server;
	const char *source;		/* "the config's DNS", "--dns", "resolvectl" */
	const uint8_t *inside_peer;	/* the peer whose AllowedIPs hold it, NULL if none */
	char route_dev[UAPI_IFNAME_MAX + 16];	/* where its queries leave; "" no route */
	const char *not_judged;		/* the failed check its queries depend on, else NULL */
	int answered;			/* dns_probe's result */
	int rcode;
	/* The root refused, failed (rcode 5, 2) or went unanswered: a second
	 * query for a name every resolver holds itself (localhost) got a real
	 * answer. A resolver without upstream serves its own names; an access
	 * list refuses both; a forwarder whose upstream is down answers
	 * localhost and lets the root time out. */
	bool own_names_answered;
	uint64_t rtt_us;
	/* Answered on UDP: one query over TCP to it too (dns_tcp_probe,
	 * bounded to 1 s), as answers too big for UDP need. */
	enum dns_tcp_result tcp;
	int pinged;			/* unanswered through the tunnel: a ping to it answered 1,
					 * not 0; not tried -1 */
	/* The server is a host behind the peer (its LAN, the internet), reached
	 * through the peer's forwarding: neither the peer's own tunnel address
	 * (peer_address, "" unknown) nor on this interface's own network. */
	bool behind_peer;
	char peer_address[IP_PREFIX_STRLEN];
};
void judge_dns(struct doctor_report *r, const struct dns_observation *o);

/* The system resolver (/etc/resolv.conf), against the tunnel's DNS: a
 * DHCP client or another tool may have put other servers there, and then
 * the tunnel's DNS is never asked. */
enum { RESOLVER_SERVERS_MAX = 4 };
struct resolver_observation {
	const char *path;			/* "/etc/resolv.conf" */
	const char *tunnel_dns;			/* the tunnel's first DNS server, as text */
	struct ip_prefix servers[RESOLVER_SERVERS_MAX];
	size_t n_servers;
	bool names_tunnel_dns;			/* one of them is a DNS server of the tunnel */
	bool stub;				/* a local stub (127.0.0.53): resolvectl knows more */
	bool link_asked;			/* stub: resolvectl dns IFACE was asked */
	bool link_names_tunnel_dns;		/* and it names a DNS server of the tunnel */
	/* stub: one query was put to it (servers[stub_index]); its
	 * dns_probe result: 1 answered, 0 nothing (refused: no listener). */
	bool stub_asked;
	size_t stub_index;
	int stub_answered;
	int answered[RESOLVER_SERVERS_MAX];	/* dns_probe's result per server, when they do not */
	int rcode[RESOLVER_SERVERS_MAX];
	bool own_names_answered[RESOLVER_SERVERS_MAX];	/* as dns_observation's */
};
void judge_system_resolver(struct doctor_report *r, const struct resolver_observation *o);

void judge_clock(struct doctor_report *r, int error, bool synced, long max_error_us, uint64_t stale_timestamps);

#endif
