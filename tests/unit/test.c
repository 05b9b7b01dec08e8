#include <stdint.h>

#include "test.h"

int test_case_failures;
static int passed, failed;
static const char *current;

bool test_check(bool ok, const char *expr, const char *file, int line)
{
	if (!ok) {
		test_case_failures++;
		if (test_case_failures <= 5)
			fprintf(stderr, "  FAIL %s: %s:%d: %s\n", current ? current : "?", file, line, expr);
	}
	return ok;
}

void test_run(const char *name, void (*fn)(void))
{
	current = name;
	test_case_failures = 0;
	fn();
	if (test_case_failures) {
		failed++;
		printf("not ok %s (%d failed checks)\n", name, test_case_failures);
	} else {
		passed++;
		printf("ok %s\n", name);
	}
	fflush(stdout);
	current = NULL;
}

int test_finish(const char *suite)
{
	printf("%s: %d passed, %d failed\n", suite, passed, failed);
	return failed ? 1 : 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t test_unhex(uint8_t *out, size_t max, const char *hex)
{
	size_t n = 0;
	while (hex[0] && hex[1] && hexval(hex[0]) >= 0) {
		int hi = hexval(hex[0]), lo = hexval(hex[1]);
		if (lo < 0 || n >= max) {
			fprintf(stderr, "bad hex vector: %s\n", hex);
			exit(2);
		}
		out[n++] = (uint8_t)(hi << 4 | lo);
		hex += 2;
	}
	return n;
}

/* Every caller (tests/run-all, make test-unit) runs the binaries from the
 * repository root, so the default is relative to it. */
const char *test_vectors_dir(void)
{
	const char *dir = getenv("ROAM_VECTORS");
	return dir && *dir ? dir : "tests/vectors";
}
