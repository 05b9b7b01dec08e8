/* Noise_IKpsk2 for WireGuard: the four handshake steps and the keypair
 * slots they fill. Step comments follow the pattern names of docs/protocol.md §2:
 *
 *   -> e, es, s, ss, {t}      (initiation)
 *   <- e, ee, se, psk, {}     (response)
 *
 * Every intermediate secret lives on the stack and is wiped at the single
 * exit of each function. */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "device_state.h"
#include "noise.h"
#include "peer.h"

/* Exactly 37 and 34 bytes: the protocol hashes them without a NUL. */
static const char construction[37] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char identifier[34] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

void tai64n_from_ns(uint8_t out[NOISE_TIMESTAMP_LEN], uint64_t wall_ns)
{
	uint64_t secs = 0x400000000000000aULL + wall_ns / NSEC_PER_SEC;
	/* Round nanoseconds down to a multiple of 2^24 (~16.8 ms), as both
	 * reference implementations do, so timestamps do not fingerprint. */
	uint32_t nsec = (uint32_t)(wall_ns % NSEC_PER_SEC) & ~0xffffffU;
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(secs >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

/* ck = HASH(CONSTRUCTION); h = HASH(HASH(ck || IDENTIFIER) || responder). */
static void handshake_init(uint8_t ck[NOISE_HASH_LEN], uint8_t h[NOISE_HASH_LEN],
			   const uint8_t responder_public[NOISE_PUBLIC_KEY_LEN])
{
	blake2s256(ck, (const uint8_t *)construction, sizeof(construction), NULL, 0);
	blake2s256(h, ck, NOISE_HASH_LEN, (const uint8_t *)identifier, sizeof(identifier));
	blake2s256(h, h, NOISE_HASH_LEN, responder_public, NOISE_PUBLIC_KEY_LEN);
}

static void mix_hash(uint8_t h[NOISE_HASH_LEN], const uint8_t *data, size_t len)
{
	blake2s256(h, h, NOISE_HASH_LEN, data, len);
}

/* ck = KDF1(ck, ephemeral public): the "e" token. */
static void mix_ephemeral(uint8_t ck[NOISE_HASH_LEN], uint8_t h[NOISE_HASH_LEN],
			  const uint8_t ephemeral[NOISE_PUBLIC_KEY_LEN])
{
	kdf(ck, NULL, NULL, ck, ephemeral, NOISE_PUBLIC_KEY_LEN);
	mix_hash(h, ephemeral, NOISE_PUBLIC_KEY_LEN);
}

/* (ck, key) = KDF2(ck, DH(priv, pub)); key may be NULL (KDF1). False on a
 * low-order point. */
static bool mix_dh(uint8_t ck[NOISE_HASH_LEN], uint8_t *key, const uint8_t priv[NOISE_PRIVATE_KEY_LEN],
		   const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	uint8_t dh[NOISE_PUBLIC_KEY_LEN];
	bool ok = x25519(dh, priv, pub);
	if (ok)
		kdf(ck, key, NULL, ck, dh, sizeof(dh));
	crypto_wipe(dh, sizeof(dh));
	return ok;
}

/* AEAD with counter 0 and the running hash as associated data, then mixes
 * the ciphertext into the hash. */
static bool seal_and_hash(struct device *dev, uint8_t *dst, const uint8_t *src, size_t len,
			  const uint8_t key[NOISE_SYMMETRIC_KEY_LEN], uint8_t h[NOISE_HASH_LEN])
{
	if (!aead_seal(dev->aead, dst, src, len, h, NOISE_HASH_LEN, 0, key))
		return false;
	mix_hash(h, dst, len + NOISE_AUTHTAG_LEN);
	return true;
}

static bool open_and_hash(struct aead_ctx *aead, uint8_t *dst, const uint8_t *src, size_t len,
			  const uint8_t key[NOISE_SYMMETRIC_KEY_LEN], uint8_t h[NOISE_HASH_LEN])
{
	if (!aead_open(aead, dst, src, len, h, NOISE_HASH_LEN, 0, key))
		return false;
	mix_hash(h, src, len);
	return true;
}

bool noise_precompute_static_static(struct device *dev, struct peer *peer)
{
	peer->static_static_ok = dev->has_identity &&
				 x25519(peer->static_static, dev->static_private, peer->public_key);
	if (!peer->static_static_ok)
		crypto_wipe(peer->static_static, sizeof(peer->static_static));
	return peer->static_static_ok;
}

/* "e" on the sending side: a fresh ephemeral key pair, its public half
 * written into the message and mixed into the state. */
static bool send_ephemeral(struct device *dev, struct noise_handshake *hs, uint8_t out[NOISE_PUBLIC_KEY_LEN])
{
	uint8_t random[NOISE_PRIVATE_KEY_LEN];
	device_random(dev, random, sizeof(random));
	x25519_private_from_random(hs->ephemeral_private, random);
	crypto_wipe(random, sizeof(random));
	if (!x25519_public_from_private(out, hs->ephemeral_private))
		return false;
	mix_ephemeral(hs->chaining_key, hs->hash, out);
	return true;
}

/* A handshake owns at most one index at a time: a new message replaces it. */
static uint32_t handshake_take_index(struct device *dev, struct peer *peer)
{
	struct noise_handshake *hs = &peer->handshake;
	if (hs->local_index)
		index_table_remove(&dev->indices, hs->local_index);
	hs->local_index = index_table_insert_new(&dev->indices, INDEX_HANDSHAKE, peer, NULL, dev->io.random, dev->io.ctx);
	return hs->local_index;
}

bool noise_create_initiation(struct device *dev, struct peer *peer, struct message_handshake_initiation *msg,
			     uint64_t now)
{
	struct noise_handshake *hs = &peer->handshake;
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN], timestamp[NOISE_TIMESTAMP_LEN];
	bool ok = false;
	(void)now;

	if (!dev->has_identity || !peer->static_static_ok)
		goto out;
	memset(msg, 0, sizeof(*msg));
	le32_write(msg->header.type, MESSAGE_HANDSHAKE_INITIATION);
	handshake_init(hs->chaining_key, hs->hash, peer->public_key);

	/* e */
	if (!send_ephemeral(dev, hs, msg->unencrypted_ephemeral))
		goto out;

	/* es */
	if (!mix_dh(hs->chaining_key, key, hs->ephemeral_private, peer->public_key))
		goto out;

	/* s */
	if (!seal_and_hash(dev, msg->encrypted_static, dev->static_public, NOISE_PUBLIC_KEY_LEN, key, hs->hash))
		goto out;

	/* ss: the static-static DH is precomputed per peer. */
	kdf(hs->chaining_key, key, NULL, hs->chaining_key, peer->static_static, NOISE_PUBLIC_KEY_LEN);

	/* {t} */
	tai64n_from_ns(timestamp, dev->io.wall_ns(dev->io.ctx));
	if (!seal_and_hash(dev, msg->encrypted_timestamp, timestamp, NOISE_TIMESTAMP_LEN, key, hs->hash))
		goto out;

	le32_write(msg->sender_index, handshake_take_index(dev, peer));
	hs->state = HANDSHAKE_CREATED_INITIATION;
	ok = true;
out:
	if (!ok)
		noise_clear_handshake(dev, peer);
	crypto_wipe(key, sizeof(key));
	return ok;
}

bool noise_open_initiation(struct aead_ctx *aead, const uint8_t static_private[NOISE_PRIVATE_KEY_LEN],
			   const uint8_t static_public[NOISE_PUBLIC_KEY_LEN],
			   const struct message_handshake_initiation *msg, struct noise_initiation_opening *out)
{
	memcpy(out->responder_public, static_public, NOISE_PUBLIC_KEY_LEN);
	handshake_init(out->chaining_key, out->hash, static_public);

	/* e */
	mix_ephemeral(out->chaining_key, out->hash, msg->unencrypted_ephemeral);

	/* es */
	out->opened = mix_dh(out->chaining_key, out->key, static_private, msg->unencrypted_ephemeral) &&
		      /* s */
		      open_and_hash(aead, out->initiator_static, msg->encrypted_static, sizeof(msg->encrypted_static),
				    out->key, out->hash);
	return out->opened;
}

void noise_initiation_opening_wipe(struct noise_initiation_opening *o)
{
	crypto_wipe(o, sizeof(*o));
}

struct peer *noise_consume_opened_initiation(struct device *dev, const struct message_handshake_initiation *msg,
					     const struct noise_initiation_opening *opening, uint64_t now, int *drop,
					     struct peer **sender)
{
	uint8_t ck[NOISE_HASH_LEN], h[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t t[NOISE_TIMESTAMP_LEN];
	struct peer *peer = NULL, *result = NULL;

	*drop = DROP_HANDSHAKE_DECRYPT;
	*sender = NULL;
	memcpy(ck, opening->chaining_key, sizeof(ck));
	memcpy(h, opening->hash, sizeof(h));
	memcpy(key, opening->key, sizeof(key));
	if (!dev->has_identity) {
		*drop = DROP_NO_IDENTITY;
		goto out;
	}
	/* Opened with a key we no longer have (changed while it waited on
	 * another thread): its initiator will try again. */
	if (!opening->opened ||
	    !crypto_equal(opening->responder_public, dev->static_public, NOISE_PUBLIC_KEY_LEN))
		goto out;
	peer = pubkey_table_lookup(&dev->pubkeys, opening->initiator_static);
	if (!peer) {
		*drop = DROP_UNKNOWN_PEER;
		goto out;
	}
	*sender = peer;
	if (!peer->static_static_ok)
		goto out;

	/* ss */
	kdf(ck, key, NULL, ck, peer->static_static, NOISE_PUBLIC_KEY_LEN);

	/* {t} */
	if (!open_and_hash(dev->aead, t, msg->encrypted_timestamp, sizeof(msg->encrypted_timestamp), key, h))
		goto out;

	/* An initiation must carry a newer timestamp than any accepted before,
	 * so a captured one can never be replayed to move the endpoint. */
	struct noise_handshake *hs = &peer->handshake;
	if (memcmp(t, hs->latest_timestamp, NOISE_TIMESTAMP_LEN) <= 0) {
		*drop = DROP_STALE_TIMESTAMP;
		goto out;
	}
	if (hs->last_initiation_consumption && now - hs->last_initiation_consumption < INITIATION_MIN_INTERVAL) {
		*drop = DROP_INITIATION_FLOOD;
		goto out;
	}

	/* Only a fully checked initiation replaces the peer's handshake state. */
	noise_clear_handshake(dev, peer);
	memcpy(hs->remote_ephemeral, msg->unencrypted_ephemeral, NOISE_PUBLIC_KEY_LEN);
	memcpy(hs->latest_timestamp, t, NOISE_TIMESTAMP_LEN);
	memcpy(hs->hash, h, NOISE_HASH_LEN);
	memcpy(hs->chaining_key, ck, NOISE_HASH_LEN);
	hs->remote_index = le32_read(msg->sender_index);
	hs->last_initiation_consumption = now;
	hs->state = HANDSHAKE_CONSUMED_INITIATION;
	*drop = DROP_NONE;
	result = peer;
out:
	crypto_wipe(ck, sizeof(ck));
	crypto_wipe(h, sizeof(h));
	crypto_wipe(key, sizeof(key));
	crypto_wipe(t, sizeof(t));
	return result;
}

struct peer *noise_consume_initiation(struct device *dev, const struct message_handshake_initiation *msg,
				      uint64_t now, int *drop, struct peer **sender)
{
	struct noise_initiation_opening opening = {0};
	if (dev->has_identity)
		noise_open_initiation(dev->aead, dev->static_private, dev->static_public, msg, &opening);
	struct peer *peer = noise_consume_opened_initiation(dev, msg, &opening, now, drop, sender);
	noise_initiation_opening_wipe(&opening);
	return peer;
}

/* psk: (ck, tau, key) = KDF3(ck, Q); h = HASH(h || tau). */
static void mix_psk(uint8_t ck[NOISE_HASH_LEN], uint8_t h[NOISE_HASH_LEN], uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
		    const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN])
{
	uint8_t tau[NOISE_HASH_LEN];
	kdf(ck, tau, key, ck, psk, NOISE_SYMMETRIC_KEY_LEN);
	mix_hash(h, tau, sizeof(tau));
	crypto_wipe(tau, sizeof(tau));
}

bool noise_prepare_response(struct device *dev, const struct peer *peer, struct noise_response_making *m)
{
	const struct noise_handshake *hs = &peer->handshake;
	memset(m, 0, sizeof(*m));
	if (hs->state != HANDSHAKE_CONSUMED_INITIATION)
		return false;
	memcpy(m->initiator_static, peer->public_key, NOISE_PUBLIC_KEY_LEN);
	memcpy(m->remote_ephemeral, hs->remote_ephemeral, NOISE_PUBLIC_KEY_LEN);
	memcpy(m->preshared_key, peer->preshared_key, NOISE_SYMMETRIC_KEY_LEN);
	memcpy(m->consumed_chaining_key, hs->chaining_key, NOISE_HASH_LEN);
	memcpy(m->chaining_key, hs->chaining_key, NOISE_HASH_LEN);
	memcpy(m->hash, hs->hash, NOISE_HASH_LEN);
	m->remote_index = hs->remote_index;
	device_random(dev, m->random, sizeof(m->random));
	m->due = true;
	return true;
}

bool noise_make_response(struct aead_ctx *aead, struct noise_response_making *m)
{
	uint8_t ephemeral_private[NOISE_PRIVATE_KEY_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	m->made = false;

	/* e */
	x25519_private_from_random(ephemeral_private, m->random);
	crypto_wipe(m->random, sizeof(m->random));
	if (!x25519_public_from_private(m->ephemeral_public, ephemeral_private))
		goto out;
	mix_ephemeral(m->chaining_key, m->hash, m->ephemeral_public);

	/* ee */
	if (!mix_dh(m->chaining_key, NULL, ephemeral_private, m->remote_ephemeral))
		goto out;
	/* se */
	if (!mix_dh(m->chaining_key, NULL, ephemeral_private, m->initiator_static))
		goto out;

	/* psk */
	mix_psk(m->chaining_key, m->hash, key, m->preshared_key);

	/* {} */
	if (!aead_seal(aead, m->encrypted_nothing, NULL, 0, m->hash, NOISE_HASH_LEN, 0, key))
		goto out;
	mix_hash(m->hash, m->encrypted_nothing, sizeof(m->encrypted_nothing));
	m->made = true;
out:
	crypto_wipe(ephemeral_private, sizeof(ephemeral_private));
	crypto_wipe(key, sizeof(key));
	crypto_wipe(m->preshared_key, sizeof(m->preshared_key));
	return m->made;
}

void noise_response_making_wipe(struct noise_response_making *m)
{
	crypto_wipe(m, sizeof(*m));
}

bool noise_install_response(struct device *dev, struct peer *peer, const struct noise_response_making *m,
			    struct message_handshake_response *msg)
{
	struct noise_handshake *hs = &peer->handshake;
	/* Still the initiation it answers: another one consumed meanwhile,
	 * or our own initiation sent, has replaced it. */
	if (hs->state != HANDSHAKE_CONSUMED_INITIATION || hs->remote_index != m->remote_index ||
	    !crypto_equal(hs->chaining_key, m->consumed_chaining_key, NOISE_HASH_LEN))
		return false;
	if (!m->made) {
		noise_clear_handshake(dev, peer);
		return false;
	}
	memset(msg, 0, sizeof(*msg));
	le32_write(msg->header.type, MESSAGE_HANDSHAKE_RESPONSE);
	le32_write(msg->receiver_index, hs->remote_index);
	memcpy(msg->unencrypted_ephemeral, m->ephemeral_public, NOISE_PUBLIC_KEY_LEN);
	memcpy(msg->encrypted_nothing, m->encrypted_nothing, sizeof(msg->encrypted_nothing));
	memcpy(hs->chaining_key, m->chaining_key, NOISE_HASH_LEN);
	memcpy(hs->hash, m->hash, NOISE_HASH_LEN);
	le32_write(msg->sender_index, handshake_take_index(dev, peer));
	hs->state = HANDSHAKE_CREATED_RESPONSE;
	return true;
}

bool noise_create_response(struct device *dev, struct peer *peer, struct message_handshake_response *msg)
{
	struct noise_response_making m;
	bool ok = noise_prepare_response(dev, peer, &m);
	if (ok) {
		noise_make_response(dev->aead, &m);
		ok = noise_install_response(dev, peer, &m, msg);
	}
	if (!ok)
		noise_clear_handshake(dev, peer);
	noise_response_making_wipe(&m);
	return ok;
}

struct peer *noise_consume_response(struct device *dev, const struct message_handshake_response *msg, int *drop)
{
	uint8_t ck[NOISE_HASH_LEN], h[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t ephemeral_private[NOISE_PRIVATE_KEY_LEN];
	struct peer *result = NULL;

	const struct index_entry *entry = index_table_lookup(&dev->indices, le32_read(msg->receiver_index));
	if (!entry || entry->kind != INDEX_HANDSHAKE) {
		*drop = DROP_UNKNOWN_INDEX;
		return NULL;
	}
	struct peer *peer = entry->peer;
	struct noise_handshake *hs = &peer->handshake;
	if (hs->state != HANDSHAKE_CREATED_INITIATION || !dev->has_identity) {
		*drop = DROP_BAD_STATE;
		return NULL;
	}
	*drop = DROP_HANDSHAKE_DECRYPT;
	/* Work on copies: a forged response must leave the pending handshake
	 * intact so the real one can still complete it. */
	memcpy(ck, hs->chaining_key, sizeof(ck));
	memcpy(h, hs->hash, sizeof(h));
	memcpy(ephemeral_private, hs->ephemeral_private, sizeof(ephemeral_private));

	/* e */
	mix_ephemeral(ck, h, msg->unencrypted_ephemeral);
	/* ee */
	if (!mix_dh(ck, NULL, ephemeral_private, msg->unencrypted_ephemeral))
		goto out;
	/* se */
	if (!mix_dh(ck, NULL, dev->static_private, msg->unencrypted_ephemeral))
		goto out;
	/* psk */
	mix_psk(ck, h, key, peer->preshared_key);
	/* {} */
	if (!open_and_hash(dev->aead, NULL, msg->encrypted_nothing, sizeof(msg->encrypted_nothing), key, h))
		goto out;

	memcpy(hs->remote_ephemeral, msg->unencrypted_ephemeral, NOISE_PUBLIC_KEY_LEN);
	memcpy(hs->chaining_key, ck, sizeof(ck));
	memcpy(hs->hash, h, sizeof(h));
	hs->remote_index = le32_read(msg->sender_index);
	hs->state = HANDSHAKE_CONSUMED_RESPONSE;
	*drop = DROP_NONE;
	result = peer;
out:
	crypto_wipe(ck, sizeof(ck));
	crypto_wipe(h, sizeof(h));
	crypto_wipe(key, sizeof(key));
	crypto_wipe(ephemeral_private, sizeof(ephemeral_private));
	return result;
}

static void keypair_destroy(struct device *dev, struct noise_keypair *kp)
{
	if (!kp)
		return;
	index_table_remove(&dev->indices, kp->local_index);
	/* The AEAD context caches the last key it used; it must not outlive
	 * the session it belongs to. */
	aead_ctx_forget(dev->aead, kp->send_key);
	aead_ctx_forget(dev->aead, kp->receive_key);
	secmem_free(kp);
}

bool noise_begin_session(struct device *dev, struct peer *peer, uint64_t now)
{
	struct noise_handshake *hs = &peer->handshake;
	struct noise_keypairs *slots = &peer->keypairs;
	bool initiator = hs->state == HANDSHAKE_CONSUMED_RESPONSE;

	if (hs->state != HANDSHAKE_CONSUMED_RESPONSE && hs->state != HANDSHAKE_CREATED_RESPONSE)
		return false;
	/* Keypairs are allocated once per handshake, never per packet. */
	struct noise_keypair *kp = secmem_alloc(sizeof(*kp));
	if (!kp)
		return false;
	kp->peer = peer;
	/* (T1, T2) = KDF2(ck, empty): the initiator sends with T1. */
	if (initiator)
		kdf(kp->send_key, kp->receive_key, NULL, hs->chaining_key, NULL, 0);
	else
		kdf(kp->receive_key, kp->send_key, NULL, hs->chaining_key, NULL, 0);
	kp->birth = now;
	kp->i_am_the_initiator = initiator;
	kp->sending_valid = true;
	kp->local_index = hs->local_index;
	kp->remote_index = hs->remote_index;
	replay_init(&kp->replay);
	/* The index the peer already knows now names the keypair. */
	index_table_replace(&dev->indices, kp->local_index, INDEX_KEYPAIR, kp);
	hs->local_index = 0;
	noise_clear_handshake(dev, peer);

	if (initiator) {
		/* Usable at once: the response proved the peer has the keys. */
		if (slots->next) {
			keypair_destroy(dev, slots->previous);
			slots->previous = slots->next;
			slots->next = NULL;
			keypair_destroy(dev, slots->current);
		} else {
			keypair_destroy(dev, slots->previous);
			slots->previous = slots->current;
		}
		slots->current = kp;
	} else {
		/* A responder waits for the initiator's first data packet before
		 * sending with it: until then it cannot know the response arrived. */
		keypair_destroy(dev, slots->next);
		slots->next = kp;
		keypair_destroy(dev, slots->previous);
		slots->previous = NULL;
	}
	return true;
}

bool noise_received_with_keypair(struct device *dev, struct peer *peer, struct noise_keypair *kp)
{
	struct noise_keypairs *slots = &peer->keypairs;
	if (kp != slots->next)
		return false;
	keypair_destroy(dev, slots->previous);
	slots->previous = slots->current;
	slots->current = slots->next;
	slots->next = NULL;
	return true;
}

void noise_clear_handshake(struct device *dev, struct peer *peer)
{
	struct noise_handshake *hs = &peer->handshake;
	if (hs->local_index)
		index_table_remove(&dev->indices, hs->local_index);
	/* The replay memory (latest timestamp, last consumption) survives:
	 * forgetting it would let an old initiation be accepted again. */
	crypto_wipe(hs->ephemeral_private, sizeof(hs->ephemeral_private));
	crypto_wipe(hs->remote_ephemeral, sizeof(hs->remote_ephemeral));
	crypto_wipe(hs->hash, sizeof(hs->hash));
	crypto_wipe(hs->chaining_key, sizeof(hs->chaining_key));
	hs->local_index = 0;
	hs->remote_index = 0;
	hs->state = HANDSHAKE_ZEROED;
}

void noise_clear_peer(struct device *dev, struct peer *peer)
{
	noise_clear_handshake(dev, peer);
	keypair_destroy(dev, peer->keypairs.previous);
	keypair_destroy(dev, peer->keypairs.current);
	keypair_destroy(dev, peer->keypairs.next);
	peer->keypairs.previous = peer->keypairs.current = peer->keypairs.next = NULL;
}

void noise_expire_sending(struct peer *peer)
{
	struct noise_keypair *all[] = {peer->keypairs.previous, peer->keypairs.current, peer->keypairs.next};
	for (size_t i = 0; i < 3; i++)
		if (all[i])
			all[i]->sending_valid = false;
}
