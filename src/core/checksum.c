/* The Internet checksum (RFC 1071), for the engine's own packets (path
 * probes) and the daemon's offloads and ICMP errors alike. */
#include <stdbool.h>
#include <string.h>

#include "checksum.h"

/* Sums native 32-bit words into 64-bit accumulators: the ones'-complement
 * sum does not care about byte order as long as the result is stored the
 * way it was summed (RFC 1071), and 2^32 words fit before any overflow.
 * Four accumulators let the compiler keep several additions in flight. */
static uint64_t sum_scalar(uint64_t sum, const uint8_t *p, size_t len)
{
	uint64_t a = 0, b = 0, c = 0, d = 0;
	while (len >= 16) {
		uint32_t w[4];
		memcpy(w, p, 16);
		a += w[0];
		b += w[1];
		c += w[2];
		d += w[3];
		p += 16;
		len -= 16;
	}
	sum += a + b + c + d;
	while (len >= 4) {
		uint32_t w;
		memcpy(&w, p, 4);
		sum += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		sum += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint8_t last[2] = {p[0], 0};
		uint16_t w;
		memcpy(&w, last, 2);
		sum += w;
	}
	return sum;
}

#if defined(__x86_64__)
#include <immintrin.h>

/* The same sum eight words at a time: AVX2 widens 32-byte blocks to 64-bit
 * lanes, about three times the scalar loop's rate; every packet sent is
 * summed once, so this is a few percent of the send path. With dst, each
 * block is stored there too, in the same pass. Returns the sum of the
 * whole blocks; the caller does the tail. */
__attribute__((target("avx2"))) static uint64_t sum_blocks_avx2(uint8_t *dst, const uint8_t *p, size_t blocks)
{
	__m256i a = _mm256_setzero_si256(), b = _mm256_setzero_si256();
	for (size_t i = 0; i < blocks; i++, p += 32) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
		if (dst) {
			_mm256_storeu_si256((__m256i *)(void *)dst, v);
			dst += 32;
		}
		a = _mm256_add_epi64(a, _mm256_cvtepu32_epi64(_mm256_castsi256_si128(v)));
		b = _mm256_add_epi64(b, _mm256_cvtepu32_epi64(_mm256_extracti128_si256(v, 1)));
	}
	uint64_t lanes[4];
	_mm256_storeu_si256((__m256i *)(void *)lanes, _mm256_add_epi64(a, b));
	return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

/* -1 until the first call asks the CPU; the unit test sets 0 to check
 * the scalar path against the vector one. */
static int csum_use_avx2 = -1;

static bool have_avx2(void)
{
	if (csum_use_avx2 < 0)
		csum_use_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
	return csum_use_avx2 == 1;
}
#endif

/* Below this a packet is mostly headers, and the scalar loop is as quick. */
enum { CSUM_VECTOR_MIN = 128 };

/* The sum of the whole 32-byte blocks at the front of p (copied to dst
 * too, when dst is not NULL) where the CPU has AVX2; *done says how many
 * bytes that was (0 without AVX2 or for short lengths). */
static uint64_t sum_vector_part(uint8_t *dst, const uint8_t *p, size_t len, size_t *done)
{
	*done = 0;
#if defined(__x86_64__)
	if (len >= CSUM_VECTOR_MIN && have_avx2()) {
		*done = len & ~(size_t)31;
		return sum_blocks_avx2(dst, p, *done / 32);
	}
#else
	(void)dst, (void)p, (void)len;
#endif
	return 0;
}

uint64_t csum_add(uint64_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t done;
	sum += sum_vector_part(NULL, p, len, &done);
	return sum_scalar(sum, p + done, len - done);
}

uint64_t csum_copy(void *dst, const void *src, size_t len, uint64_t sum)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	size_t done;
	sum += sum_vector_part(d, s, len, &done);
	/* The rest: copy, then sum while the bytes are still in cache. */
	memcpy(d + done, s + done, len - done);
	return sum_scalar(sum, d + done, len - done);
}

uint16_t csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint16_t be16_native(uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	uint16_t w;
	memcpy(&w, b, 2);
	return w;
}

uint64_t csum_pseudo(const uint8_t *src, const uint8_t *dst, size_t alen, uint8_t proto, uint32_t l4_len)
{
	uint64_t sum = csum_add(0, src, alen);
	sum = csum_add(sum, dst, alen);
	/* IPv4's 16-bit length and IPv6's 32-bit one sum the same way. */
	return sum + be16_native((uint16_t)(l4_len >> 16)) + be16_native((uint16_t)l4_len) + be16_native(proto);
}


void csum_store(uint8_t *field, uint64_t sum)
{
	/* Summed in native order, stored in native order (RFC 1071 §2(B)). */
	uint16_t c = (uint16_t)~csum_fold(sum);
	memcpy(field, &c, 2);
}
