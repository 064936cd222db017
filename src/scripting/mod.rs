//! Lua scripting (EVAL, EVALSHA, SCRIPT …): the script cache and the
//! state of a running script. (Being filled in.)

/// Server-wide scripting state, owned by [`crate::server::Shared`].
#[derive(Default)]
pub struct Scripting {}
