/* Wire formats and protocol constants of WireGuard, in one place.
 *
 * Every multi-byte integer on the wire is little-endian; the structs below
 * are byte arrays only, so they have no padding and no alignment needs and
 * can be laid over any received buffer once its length has been checked.
 * Sources for every value: docs/protocol.md §1, §3, §5. */
#ifndef ROAM_MESSAGES_H
#define ROAM_MESSAGES_H

#include <stddef.h>
#include <stdint.h>

enum noise_lengths {
	NOISE_PUBLIC_KEY_LEN = 32,
	NOISE_PRIVATE_KEY_LEN = 32,
	NOISE_SYMMETRIC_KEY_LEN = 32,
	NOISE_HASH_LEN = 32,
	NOISE_AUTHTAG_LEN = 16,
	NOISE_TIMESTAMP_LEN = 12,
};

#define NOISE_ENCRYPTED_LEN(plain_len) ((plain_len) + NOISE_AUTHTAG_LEN)

enum cookie_values {
	COOKIE_LEN = 16,
	COOKIE_NONCE_LEN = 24,
	COOKIE_SECRET_LEN = 32,
};

enum message_type {
	MESSAGE_INVALID = 0,
	MESSAGE_HANDSHAKE_INITIATION = 1,
	MESSAGE_HANDSHAKE_RESPONSE = 2,
	MESSAGE_HANDSHAKE_COOKIE = 3,
	MESSAGE_DATA = 4,
};

/* Nanoseconds: every lifetime in the core is measured on the injected
 * monotonic clock in these units. */
#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL

/* Timers and limits (docs/protocol.md §5.1). */
#define REKEY_AFTER_MESSAGES (1ULL << 60)
/* wireguard-go's value; the kernel's differs by a few counts (docs/protocol.md §5.1). */
#define REJECT_AFTER_MESSAGES (UINT64_MAX - (1ULL << 13))
#define REKEY_TIMEOUT (5 * NSEC_PER_SEC)
#define REKEY_TIMEOUT_JITTER_MAX_MS 334
#define REKEY_AFTER_TIME (120 * NSEC_PER_SEC)
#define REJECT_AFTER_TIME (180 * NSEC_PER_SEC)
#define REKEY_ATTEMPT_TIME (90 * NSEC_PER_SEC)
#define KEEPALIVE_TIMEOUT (10 * NSEC_PER_SEC)
#define MAX_TIMER_HANDSHAKES (REKEY_ATTEMPT_TIME / REKEY_TIMEOUT)
#define ZERO_KEY_MATERIAL_TIMEOUT (3 * REJECT_AFTER_TIME)
/* Rekey-on-receive threshold for the initiator: 165 s. */
#define REKEY_ON_RECEIVE_AGE (REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT)
/* Cookie secret lifetime at the issuer, and cookie lifetime at the holder:
 * the kernel's conservative 120 s - 5 s latency allowance. */
#define COOKIE_SECRET_MAX_AGE (120 * NSEC_PER_SEC)
#define COOKIE_SECRET_LATENCY (5 * NSEC_PER_SEC)
/* Receive-side flood limit: at most 50 initiations a second per peer. */
#define INITIATIONS_PER_SECOND 50
#define INITIATION_MIN_INTERVAL (NSEC_PER_SEC / INITIATIONS_PER_SECOND)
/* Under load, per source address: 20 handshakes a second, burst of 5. */
#define RATELIMIT_PACKETS_PER_SECOND 20
#define RATELIMIT_PACKETS_BURSTABLE 5
/* Under load, cookie replies for the whole device: 50,000 a second, burst
 * of 5,000 (not per source: see receive.c, cookie_reply_allowed). */
#define COOKIE_REPLIES_PER_SECOND 50000
#define COOKIE_REPLIES_BURSTABLE 5000
/* Under load = this many handshake messages waiting, sticky for 1 s. */
#define UNDER_LOAD_QUEUE_LEN 128
#define UNDER_LOAD_AFTER_TIME NSEC_PER_SEC
/* Packets held per peer while a handshake is under way. */
#define MAX_STAGED_PACKETS 128
/* Replay window: 8192 bits of which one 64-bit word is the moving edge
 * (RFC 6479); the same 8128 as both reference implementations. */
#define COUNTER_BITS_TOTAL 8192
#define COUNTER_WINDOW_SIZE (COUNTER_BITS_TOTAL - 64)

#define MESSAGE_PADDING_MULTIPLE 16
#define DEFAULT_MTU 1420

/* Every message starts with this header: the type in byte 0 and three
 * reserved zero bytes, read together as one little-endian u32 so that a
 * non-zero reserved byte makes the type unknown. */
struct message_header {
	uint8_t type[4];
};

struct message_macs {
	uint8_t mac1[COOKIE_LEN];
	uint8_t mac2[COOKIE_LEN];
};

struct message_handshake_initiation {
	struct message_header header;
	uint8_t sender_index[4];
	uint8_t unencrypted_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t encrypted_static[NOISE_ENCRYPTED_LEN(NOISE_PUBLIC_KEY_LEN)];
	uint8_t encrypted_timestamp[NOISE_ENCRYPTED_LEN(NOISE_TIMESTAMP_LEN)];
	struct message_macs macs;
};

struct message_handshake_response {
	struct message_header header;
	uint8_t sender_index[4];
	uint8_t receiver_index[4];
	uint8_t unencrypted_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t encrypted_nothing[NOISE_ENCRYPTED_LEN(0)];
	struct message_macs macs;
};

struct message_handshake_cookie {
	struct message_header header;
	uint8_t receiver_index[4];
	uint8_t nonce[COOKIE_NONCE_LEN];
	uint8_t encrypted_cookie[NOISE_ENCRYPTED_LEN(COOKIE_LEN)];
};

struct message_data {
	struct message_header header;
	uint8_t receiver_index[4];
	uint8_t counter[8];
	uint8_t encrypted_data[];
};

enum message_lengths {
	MESSAGE_INITIATION_LEN = sizeof(struct message_handshake_initiation),
	MESSAGE_RESPONSE_LEN = sizeof(struct message_handshake_response),
	MESSAGE_COOKIE_LEN = sizeof(struct message_handshake_cookie),
	MESSAGE_DATA_HEADER_LEN = sizeof(struct message_data),
	MESSAGE_DATA_MIN_LEN = MESSAGE_DATA_HEADER_LEN + NOISE_AUTHTAG_LEN,
	MESSAGE_MAX_LEN = 65535,
};

_Static_assert(sizeof(struct message_handshake_initiation) == 148, "initiation is 148 bytes");
_Static_assert(sizeof(struct message_handshake_response) == 92, "response is 92 bytes");
_Static_assert(sizeof(struct message_handshake_cookie) == 64, "cookie reply is 64 bytes");
_Static_assert(sizeof(struct message_data) == 16, "data header is 16 bytes");

/* Room a caller leaves around an inner packet so it can be encrypted in
 * place: the data header before it, padding and the tag after it. */
#define MESSAGE_DATA_HEADROOM MESSAGE_DATA_HEADER_LEN
#define MESSAGE_DATA_TAILROOM (MESSAGE_PADDING_MULTIPLE - 1 + NOISE_AUTHTAG_LEN)

static inline uint32_t le32_read(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void le32_write(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint64_t le64_read(const uint8_t *p)
{
	return (uint64_t)le32_read(p) | (uint64_t)le32_read(p + 4) << 32;
}

static inline void le64_write(uint8_t *p, uint64_t v)
{
	le32_write(p, (uint32_t)v);
	le32_write(p + 4, (uint32_t)(v >> 32));
}

static inline enum message_type message_type_of(const uint8_t *buf, size_t len)
{
	if (len < sizeof(struct message_header))
		return MESSAGE_INVALID;
	uint32_t t = le32_read(buf);
	return t >= MESSAGE_HANDSHAKE_INITIATION && t <= MESSAGE_DATA ? (enum message_type)t : MESSAGE_INVALID;
}

#endif
