/* ice_reply.h — answers ICE connectivity checks on a socket libnice no longer reads.
 *
 * Once a participant's media flows on a UDP path of ours, the transport reads that socket
 * itself (transport_receive.c, "direct receive"), and the STUN that still arrives there is ours to
 * answer: the peer's consent checks (RFC 7675 §5.1: a browser sends one every few seconds and
 * hangs up after 30 s without answers) and any further connectivity check or nomination on
 * the path (RFC 8445 §7.3). libnice's own STUN library validates the request (short-term
 * credentials: USERNAME, MESSAGE-INTEGRITY, FINGERPRINT, RFC 5389 §10.1.2, §15.4, §15.5) and
 * writes the answer (XOR-MAPPED-ADDRESS of where it came from); this module decides what is
 * answered.
 *
 * Answered: a Binding request whose USERNAME is our ufrag, a colon and anything, and whose
 * integrity checks with our password. A role conflict (RFC 8445 §7.3.1.1) is answered as the
 * RFC says, with 487 or a success, but never changes our role: roles are settled before a
 * transport reads its socket itself. Nothing else is answered (responses, indications, other
 * methods, unknown comprehension-required attributes, failed integrity): as libnice would not
 * answer them either, or with an error the peer does not need.
 *
 * Also here: our own check to an address the peer's packets come from that is not where we
 * send (dc_ice_check_*). Packets that authenticate from a new address do not prove the peer
 * is there or wants our media there: an attacker on the path can send a copy of the peer's
 * packet from its own address (or another's, spoofed) ahead of the original. RFC 7675 §5.1
 * asks for consent before sending to an address: a Binding request of ours (USERNAME
 * "their-ufrag:our-ufrag", integrity with their password, RFC 8445 §7.2.2) whose success
 * response, intact under their password, comes back from that address. Only the peer knows
 * that password, so only a response from the peer moves where we send.
 */
#ifndef DC_ICE_REPLY_H
#define DC_ICE_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DC_ICE_REPLY_MAX_REQUEST 1024 /* longer requests get no answer */

/* The answer to the datagram req (len bytes) from `from`, written to out (cap bytes: at least
 * len + 128, else nothing is written); its length, or 0 when it gets none. Each thread keeps
 * its own state: callable from several at once. */
size_t dc_ice_reply(const uint8_t *req, size_t len, const char *ufrag, const char *pwd, bool controlling,
                    uint64_t tie_breaker, const struct sockaddr *from, socklen_t from_len, uint8_t *out,
                    size_t cap);

/* Our check to one address: its magic cookie and transaction id (RFC 5389 §6, as libnice's
 * StunTransactionId holds them), what dc_ice_check_answered matches a response against. */
typedef struct {
  uint8_t id[16];
} dc_ice_check;

/* Writes a Binding request to the peer into out (cap bytes, at least 200): USERNAME
 * remote_ufrag:local_ufrag, PRIORITY of a peer-reflexive candidate of ours, ICE-CONTROLLING or
 * ICE-CONTROLLED with tie_breaker, MESSAGE-INTEGRITY with remote_pwd, FINGERPRINT; no
 * USE-CANDIDATE (it nominates nothing). Sets *check; returns the length, 0 when the
 * credentials are missing or do not fit. */
size_t dc_ice_check_request(dc_ice_check *check, const char *local_ufrag, const char *remote_ufrag,
                            const char *remote_pwd, bool controlling, uint64_t tie_breaker, uint8_t *out,
                            size_t cap);

/* Whether the datagram resp (len bytes) is a success response to check with its integrity
 * intact under remote_pwd. Where it came from is the caller's to compare. */
bool dc_ice_check_answered(const dc_ice_check *check, const uint8_t *resp, size_t len, const char *remote_pwd);

#endif
