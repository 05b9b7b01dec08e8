/* Numbers as wg-quick files and prefixes spell them. */
#ifndef ROAM_DECIMAL_H
#define ROAM_DECIMAL_H

#include <stdbool.h>
#include <stdint.h>

/* Decimal digits only (no sign, no spaces, not empty), at most max
 * (max below UINT64_MAX / 10). */
bool parse_decimal(const char *s, uint64_t max, uint64_t *out);

#endif
