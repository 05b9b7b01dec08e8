/* Numbers as wg-quick files, prefixes and UAPI replies spell them. */
#ifndef ROAM_DECIMAL_H
#define ROAM_DECIMAL_H

#include <stdbool.h>
#include <stdint.h>

/* Decimal digits only (no sign, no spaces, not empty), at most max; never
 * wraps, so max may be UINT64_MAX. *out is set only on success. */
bool parse_decimal(const char *s, uint64_t max, uint64_t *out);

#endif
