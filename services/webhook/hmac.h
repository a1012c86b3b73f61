/*
 * hmac.h - HMAC-SHA256 signatures of webhook deliveries (pure functions).
 *
 * GitHub sends X-Hub-Signature-256: "sha256=" + hex(HMAC_SHA256(secret,
 * raw_body)); Plane sends X-Plane-Signature: the bare hex digest.  The
 * comparison decodes the hex (either case) and compares the 32 bytes in
 * constant time, so the time taken does not tell how much of a forged
 * signature was right.
 */
#ifndef WEBHOOK_HMAC_H
#define WEBHOOK_HMAC_H

#include <stdbool.h>
#include <stddef.h>

#define HMAC_SHA256_LEN 32
#define HMAC_SHA256_HEX (2 * HMAC_SHA256_LEN + 1)

/* hmac_sha256 writes HMAC-SHA256(key, data) into out.  Returns 0 or
 * ERR_IO (the crypto library failed). */
int hmac_sha256(unsigned char out[HMAC_SHA256_LEN], const char *key,
    size_t keylen, const void *data, size_t len);

/* hmac_sha256_hex writes the lowercase hex digest (64 chars + NUL) of
 * HMAC-SHA256(secret, body) into hex.  Returns 0 or ERR_IO. */
int hmac_sha256_hex(char hex[HMAC_SHA256_HEX], const char *secret,
    const void *body, size_t len);

/* hmac_verify_hex is true when hex (64 hex digits, any case, nothing else)
 * is the HMAC-SHA256 of body under secret.  NULL or empty hex/secret is
 * false. */
bool hmac_verify_hex(
    const char *hex, const char *secret, const void *body, size_t len);

/* hmac_verify checks a GitHub X-Hub-Signature-256 header value:
 * "sha256=<hex>".  A missing header (NULL), a missing prefix or a bad
 * digest is false. */
bool hmac_verify(
    const char *header, const char *secret, const void *body, size_t len);

/* hmac_hexval returns the value of hex digit c (either case), or -1: for
 * signatures and for percent-encoded form bodies. */
int hmac_hexval(int c);

#endif
