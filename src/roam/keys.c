/* roam genkey, pubkey, genpsk: the key tools, as wg has them.
 *
 * Keys go to standard output so they compose like wg's:
 *     umask 077; roam genkey | tee private.key | roam pubkey > public.key
 * The shell opens a redirection target before roam starts, so roam's own
 * umask cannot protect it; what roam can do is look at what it was handed.
 * wg only warns when that is a file others can read; roam refuses, because
 * by the time anyone reads the warning the secret is already on disk. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "key_encoding.h"

enum { PUBKEY_INPUT_MAX = 1024 };	/* a key and generous whitespace */

/* Handles the arguments of a command that takes none: --help prints usage
 * and returns 0, anything else is a usage error (2). -1 means "go on". */
static int no_arguments(int argc, char **argv, const char *usage)
{
	if (argc < 2)
		return -1;
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage, stdout);
		return 0;
	}
	fprintf(stderr, "roam %s: unexpected argument '%s'; it takes none (see roam %s --help)\n", argv[0], argv[1],
		argv[0]);
	return 2;
}

/* Is standard output somewhere a secret may go? Terminals and pipes are the
 * user's business; a regular file must be private to its owner. */
static bool stdout_is_private(const char *cmd)
{
	char name[PATH_MAX];
	struct stat st;
	ssize_t len;

	if (fstat(STDOUT_FILENO, &st) < 0) {
		fprintf(stderr, "roam %s: standard output: %s\n", cmd, strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode) || !(st.st_mode & 077))
		return true;
	len = readlink("/proc/self/fd/1", name, sizeof(name) - 1);
	if (len < 0)
		strcpy(name, "standard output");
	else
		name[len] = '\0';
	fprintf(stderr,
		"roam %s: refusing to write a secret key to %s: its mode %04o lets other users read it "
		"(create it under 'umask 077', or chmod 600 it first)\n",
		cmd, name, (unsigned)(st.st_mode & 07777));
	return false;
}

static bool write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Writes key as one base64 line; the stack copy is wiped either way. */
static int print_key(const char *cmd, const uint8_t key[KEY_LEN])
{
	char line[KEY_B64_LEN + 2];
	bool ok;

	key_to_base64(line, key);
	line[KEY_B64_LEN] = '\n';
	ok = write_all(STDOUT_FILENO, line, KEY_B64_LEN + 1);
	crypto_wipe(line, sizeof(line));
	if (!ok) {
		fprintf(stderr, "roam %s: cannot write to standard output: %s\n", cmd, strerror(errno));
		return 1;
	}
	return 0;
}

static bool random_bytes(uint8_t *buf, size_t len)
{
	ssize_t n;

	/* getrandom blocks until the kernel's pool is seeded, which is exactly
	 * the guarantee a long-term key needs. */
	while (len) {
		n = getrandom(buf, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* genkey and genpsk differ only in the clamping of a Curve25519 scalar. */
static int generate(int argc, char **argv, const char *usage, bool clamp)
{
	uint8_t random[KEY_LEN], key[KEY_LEN];
	int ret = no_arguments(argc, argv, usage);

	if (ret >= 0)
		return ret;
	/* Check before generating, so a refused key never exists at all. */
	if (!stdout_is_private(argv[0]))
		return 1;
	if (!random_bytes(random, sizeof(random))) {
		fprintf(stderr, "roam %s: cannot get random bytes: %s\n", argv[0], strerror(errno));
		return 1;
	}
	if (clamp)
		x25519_private_from_random(key, random);
	else
		memcpy(key, random, KEY_LEN);
	ret = print_key(argv[0], key);
	crypto_wipe(random, sizeof(random));
	crypto_wipe(key, sizeof(key));
	return ret;
}

int cmd_genkey(int argc, char **argv)
{
	return generate(argc, argv,
			"Usage: roam genkey\n"
			"Writes a new private key (32 random bytes, clamped for Curve25519) in base64 to standard\n"
			"output. Refuses when standard output is a file other users can read: create it with\n"
			"  umask 077; roam genkey > private.key\n",
			true);
}

int cmd_genpsk(int argc, char **argv)
{
	return generate(argc, argv,
			"Usage: roam genpsk\n"
			"Writes a new preshared key (32 random bytes) in base64 to standard output, for\n"
			"PresharedKey on both ends of one peer pair. Refuses a file other users can read.\n",
			false);
}

int cmd_pubkey(int argc, char **argv)
{
	char buf[PUBKEY_INPUT_MAX + 1];
	uint8_t priv[KEY_LEN], pub[KEY_LEN];
	size_t len = 0, start = 0;
	ssize_t n;
	int ret = no_arguments(argc, argv,
			       "Usage: roam pubkey < private.key\n"
			       "Reads a base64 private key on standard input and writes its public key.\n");

	if (ret >= 0)
		return ret;
	ret = 1;
	while (len < sizeof(buf)) {
		n = read(STDIN_FILENO, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "roam pubkey: cannot read standard input: %s\n", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > PUBKEY_INPUT_MAX) {
		fputs("roam pubkey: standard input is too long for a private key\n", stderr);
		goto out;
	}
	/* A trailing newline (and stray whitespace around the key) is normal
	 * for a key file; anything else is not a key. */
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	while (start < len && (buf[start] == ' ' || buf[start] == '\t'))
		start++;
	buf[len] = '\0';
	if (memchr(buf + start, '\0', len - start) || !key_from_base64(priv, buf + start)) {
		fputs("roam pubkey: standard input is not a private key (44 base64 characters ending in '=')\n",
		      stderr);
		goto out;
	}
	if (!x25519_public_from_private(pub, priv)) {
		fputs("roam pubkey: cannot compute the public key\n", stderr);
		goto out;
	}
	ret = print_key("pubkey", pub);
out:
	crypto_wipe(buf, sizeof(buf));
	crypto_wipe(priv, sizeof(priv));
	return ret;
}
