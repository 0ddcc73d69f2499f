/* bytes.c — the text behind dc_status; see bytes.h. */
#include "media/bytes.h"

const char *dc_status_str(dc_status status) {
  switch (status) {
  case DC_OK: return "ok";
  case DC_ERR_TRUNCATED: return "truncated";
  case DC_ERR_MALFORMED: return "malformed";
  case DC_ERR_UNSUPPORTED: return "unsupported";
  case DC_ERR_NO_SPACE: return "output buffer too small";
  case DC_ERR_NOT_FOUND: return "not found";
  case DC_ERR_AUTH: return "authentication failed";
  case DC_ERR_REPLAY: return "replayed or too old";
  case DC_ERR_STATE: return "not allowed in this state";
  case DC_ERR_INTERNAL: return "internal library error";
  }
  return "unknown status";
}

#include "media/error.h"

G_DEFINE_QUARK(diemcau-media-error-quark, dc_media_error)
