//! The feeds, whatever carries them: where a client's feed starts when it opens or comes back
//! ([`resume`]), and the feed itself, history replayed then live ([`subscription`]). The HTTP
//! handlers (`http::streams` for SSE, `http::ws`) only parse, open and write frames. The
//! projections rebuilt from the history, as the platform's rebuild job ([`rebuild`]).

pub mod rebuild;
pub mod resume;
pub mod subscription;
