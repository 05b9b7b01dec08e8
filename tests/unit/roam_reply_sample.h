/* A get=2 reply as roamd writes it (schema: src/common/uapi_contract.h), shared
 * by the roam CLI unit tests: a device with fwmark and drops; a peer with a
 * PSK, a handshake, drops, NAT evidence, two history entries and two
 * endpoint candidates (the second in use), plus a key
 * from a future schema that must be ignored; a peer that never made it.
 * The private key is 0xa8 x 32; its public key was computed with `wg pubkey`. */
#ifndef ROAM_TEST_REPLY_SAMPLE_H
#define ROAM_TEST_REPLY_SAMPLE_H

#define SAMPLE_PUBLIC_KEY "9MRwbGGJod1aX4P/tNPNT+z/114HLH2rnjx76hw44XM="

static const char sample_get2[] =
	"private_key=a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8\n"
	"listen_port=51820\n"
	"fwmark=51820\n"
	"roam_version=1\n"
	"roam_peers=2\n"
	"roam_under_load=0\n"
	"roam_drop=bad_mac1:3\n"
	"roam_drop=no_route:1\n"
	"public_key=b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1\n"
	"preshared_key=d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3\n"
	"protocol_version=1\n"
	"endpoint=192.0.2.12:51820\n"
	"last_handshake_time_sec=1700000000\n"
	"last_handshake_time_nsec=500000000\n"
	"tx_bytes=1536\n"
	"rx_bytes=3145728\n"
	"persistent_keepalive_interval=25\n"
	"allowed_ip=198.18.0.2/32\n"
	"allowed_ip=fd00:2::2/128\n"
	"roam_rx_packets=40\n"
	"roam_tx_packets=42\n"
	"roam_has_session=1\n"
	"roam_handshake_attempts=0\n"
	"roam_last_receive_age_ms=1500\n"
	"roam_last_handshake_age_ms=65000\n"
	"roam_drop=replay:2\n"
	"roam_endpoint_changes=1\n"
	"roam_nat_rebinds=1\n"
	"roam_nat_rebound_min_idle_ms=30000\n"
	"roam_nat_kept_max_idle_ms=10000\n"
	"roam_suggested_keepalive=15\n"
	"roam_history=handshake_complete 1699999900.000000001 165000 - 192.0.2.2:51820 0\n"
	"roam_history=endpoint_changed 1699999935.250000000 130000 192.0.2.2:51820 192.0.2.12:51820 30000\n"
	"roam_endpoint_candidate=192.0.2.2:51820\n"
	"roam_endpoint_candidate=192.0.2.12:51820\n"
	"roam_endpoint_candidate_index=1\n"
	"roam_some_future_key=is ignored\n"
	"public_key=c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2\n"
	"preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
	"protocol_version=1\n"
	"endpoint=[fd00:1::2]:51821\n"
	"last_handshake_time_sec=0\n"
	"last_handshake_time_nsec=0\n"
	"tx_bytes=0\n"
	"rx_bytes=0\n"
	"persistent_keepalive_interval=0\n"
	"roam_rx_packets=0\n"
	"roam_tx_packets=0\n"
	"roam_has_session=0\n"
	"roam_handshake_attempts=3\n"
	"roam_endpoint_changes=0\n"
	"roam_nat_rebinds=0\n"
	"errno=0\n"
	"\n";

#endif
