/* A tiny test harness. A test case is a function; it passes when every
 * CHECK in it holds. Each test binary prints one line per case and ends with
 * "<name>: N passed, M failed"; tests/run-all sums those lines. */
#ifndef ROAM_TEST_H
#define ROAM_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int test_case_failures;

bool test_check(bool ok, const char *expr, const char *file, int line);
void test_run(const char *name, void (*fn)(void));
int test_finish(const char *suite);
/* Parses hex into out; returns the byte count or aborts the test binary on
 * malformed input (a broken vector is a broken test, not a failing case). */
size_t test_unhex(uint8_t *out, size_t max, const char *hex);
/* The directory of the "key = value" / "key: value" vector files:
 * $ROAM_VECTORS if set and not empty, else the repository's own
 * tests/vectors (relative: the tests run from the repository root). */
const char *test_vectors_dir(void);

#define CHECK(cond) test_check((cond), #cond, __FILE__, __LINE__)
#define CHECK_MEM(a, b, n) test_check(memcmp((a), (b), (n)) == 0, "memcmp(" #a ", " #b ")", __FILE__, __LINE__)
#define RUN(fn) test_run(#fn, fn)

#endif
