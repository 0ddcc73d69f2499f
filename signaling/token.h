/* token.h — signed, expiring invitation tokens: the secret part of a join link.
 *
 * A token binds an invitation to its meeting, point and role until an expiry time:
 *   dc1.<base64url(payload)>.<base64url(HMAC-SHA256(secret, "dc1." + base64url(payload)))>
 * with payload "<invitation>:<meeting>:<point>:<role>:<expires>" (decimal ids, Unix time).
 * The secret lives in the store. Verification checks the MAC in constant time before it
 * reads the payload, then the expiry. The store must still be asked whether the invitation
 * exists, is not revoked and its meeting has not ended: the token alone proves only that we
 * issued it. Tokens are secrets: never log one.
 */
#ifndef DC_TOKEN_H
#define DC_TOKEN_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define DC_TOKEN_ERROR (dc_token_error_quark())
GQuark dc_token_error_quark(void);
typedef enum { DC_TOKEN_ERROR_INVALID, DC_TOKEN_ERROR_EXPIRED } dc_token_error_code;

#define DC_TOKEN_MAX_LEN 256

typedef struct {
  int64_t invitation_id, meeting_id, point_id;
  char role[16]; /* "host", "participant", "observer" */
  int64_t expires_at;
} dc_token_claims;

char *dc_token_sign(const uint8_t secret[32], const dc_token_claims *claims);
/* now: Unix seconds. On failure the error says "not valid" or "expired", nothing more:
 * a caller shows it to the user, and it must not help forge a token. */
bool dc_token_verify(const uint8_t secret[32], const char *token, int64_t now,
                     dc_token_claims *claims, GError **error);

#endif
