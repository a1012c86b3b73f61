/*
 * hmac.c - HMAC-SHA256 signatures of webhook deliveries (mbedtls).
 *
 * Pure functions: no state, no logging of keys, digests or bodies.  The
 * verifier decodes the presented hex first (a malformed value fails at
 * once: its length and shape are public anyway) and then compares digest
 * bytes with an accumulate-or loop that always touches all 32 bytes.
 */
#include <string.h>

#include <mbedtls/md.h>

#include "hmac.h"
#include "opc/err.h"

int
hmac_sha256(unsigned char out[HMAC_SHA256_LEN], const char *key, size_t keylen,
    const void *data, size_t len)
{
	const mbedtls_md_info_t *md;

	if ((md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256)) == NULL)
		return (ERR_IO);
	if (mbedtls_md_hmac(md, (const unsigned char *) key, keylen,
	        (const unsigned char *) data, len, out) != 0)
		return (ERR_IO);
	return (0);
}

int
hmac_sha256_hex(char hex[HMAC_SHA256_HEX], const char *secret,
    const void *body, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char     mac[HMAC_SHA256_LEN];
	size_t            i;
	int               rv;

	hex[0] = '\0';
	if ((rv = hmac_sha256(mac, secret, strlen(secret), body, len)) != 0)
		return (rv);
	for (i = 0; i < HMAC_SHA256_LEN; i++) {
		hex[2 * i]     = digits[mac[i] >> 4];
		hex[2 * i + 1] = digits[mac[i] & 0xf];
	}
	hex[2 * HMAC_SHA256_LEN] = '\0';
	return (0);
}

int
hmac_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

bool
hmac_verify_hex(
    const char *hex, const char *secret, const void *body, size_t len)
{
	unsigned char want[HMAC_SHA256_LEN], got[HMAC_SHA256_LEN];
	unsigned char diff = 0;
	size_t        i;
	int           hi, lo;

	if (hex == NULL || secret == NULL || secret[0] == '\0' ||
	    strlen(hex) != 2 * HMAC_SHA256_LEN)
		return (false);
	for (i = 0; i < HMAC_SHA256_LEN; i++) {
		if ((hi = hmac_hexval((unsigned char) hex[2 * i])) < 0 ||
		    (lo = hmac_hexval((unsigned char) hex[2 * i + 1])) < 0)
			return (false);
		got[i] = (unsigned char) (hi << 4 | lo);
	}
	if (hmac_sha256(want, secret, strlen(secret), body, len) != 0)
		return (false);
	for (i = 0; i < HMAC_SHA256_LEN; i++)
		diff |= (unsigned char) (want[i] ^ got[i]);
	return (diff == 0);
}

bool
hmac_verify(
    const char *header, const char *secret, const void *body, size_t len)
{
	static const char prefix[] = "sha256=";

	if (header == NULL || strncmp(header, prefix, sizeof(prefix) - 1) != 0)
		return (false);
	return (
	    hmac_verify_hex(header + sizeof(prefix) - 1, secret, body, len));
}
