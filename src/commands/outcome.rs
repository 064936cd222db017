//! What a command asks of its connection once its reply is written.
//!
//! Every handler returns one inside [`CmdResult`](super::CmdResult), and
//! [`dispatch`](crate::server::dispatch::dispatch) returns the outcome of
//! the command it admitted (or [`Outcome::Wait`] when it ran nothing). The
//! connection loop acts on it; nothing about a command's effect on its
//! connection is left on `Client` for the loop to discover. Plain data, so
//! an executor that forwards to an upstream server can say the same things.

use std::time::Duration;

/// See the module docs. Small (two words): every handler returns one.
#[derive(Debug, Default, PartialEq, Eq)]
#[must_use]
pub enum Outcome {
    /// Replied; the connection goes on with the next command.
    #[default]
    Done,
    /// Close the connection once this batch's replies are written (QUIT,
    /// the client's own user deleted, CLIENT KILL of itself).
    Close,
    /// The command registered a waiter and wrote no reply: the reply comes
    /// later as a push, and the rest of the pipeline waits for it.
    Block(Box<Blocked>),
    /// The command failed with this error, and its reply is to be held
    /// back this long: a failed AUTH under `auth-fail-delay`. Dispatch
    /// writes and counts the error and hands the connection a `Delay`.
    /// Boxed: it is rare, and the outcome every handler returns stays
    /// two words.
    Refused(Box<(super::Error, Duration)>),
    /// Hold this batch's replies back this long before writing them; what
    /// follows in the pipeline waits too, so a pipeline of guesses gains
    /// nothing. Only dispatch answers this (from `Refused`).
    Delay(Duration),
    /// WAIT / WAITAOF: the reply comes when what it awaits happens or its
    /// timeout runs out; the rest of the pipeline waits for it.
    Await(Box<Awaited>),
    /// Not run: another client's script has the turn. The connection
    /// dispatches the command again once the script lets it (see
    /// `Scripting::wait_turn`). Only dispatch answers this.
    Wait,
    /// Not run: CLIENT PAUSE holds it. The connection waits for the pause
    /// to change or end (see `server::pause`), then dispatches it again.
    /// Only dispatch answers this.
    Paused,
}

impl Outcome {
    /// The outcome of a command that ran others (EXEC): closing wins, then
    /// the longest delay. Queued commands never block or wait.
    pub fn and(self, next: Outcome) -> Outcome {
        match (self, next) {
            (Outcome::Close, _) | (_, Outcome::Close) => Outcome::Close,
            (Outcome::Delay(a), Outcome::Delay(b)) => Outcome::Delay(a.max(b)),
            (Outcome::Delay(d), _) | (_, Outcome::Delay(d)) => Outcome::Delay(d),
            (a, _) => a,
        }
    }
}

/// What a WAIT or WAITAOF waits for (see `commands::replication`).
#[derive(Debug, PartialEq, Eq)]
pub enum Awaited {
    /// WAIT: replicas keyward never has; `:0` when the timeout runs out
    /// (`None`: never).
    Replicas { timeout: Option<Duration> },
    /// WAITAOF: `[local, 0]`, local = an fdatasync covers `offset` (the
    /// client's last write; `None`: the AOF is off). Ends when it is
    /// covered, unless `until_timeout` (replicas were asked for, which
    /// never acknowledge). `numlocal`: an AOF turned off meanwhile ends it
    /// with Redis's error.
    Aof {
        offset: Option<u64>,
        numlocal: bool,
        until_timeout: bool,
        timeout: Option<Duration>,
    },
}

/// A client waiting in a blocking command (its waiter id is the client id).
#[derive(Debug, PartialEq, Eq)]
pub struct Blocked {
    pub db: usize,
    /// `None` blocks forever.
    pub timeout: Option<Duration>,
    /// What to answer on timeout, in the client's protocol.
    pub timeout_reply: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_keeps_the_strongest_outcome_of_its_commands() {
        let d = |ms| Outcome::Delay(Duration::from_millis(ms));
        assert_eq!(Outcome::Done.and(Outcome::Done), Outcome::Done);
        assert_eq!(Outcome::Done.and(d(5)), d(5));
        assert_eq!(d(5).and(d(9)).and(Outcome::Done), d(9));
        assert_eq!(d(5).and(Outcome::Close), Outcome::Close);
        assert_eq!(Outcome::Close.and(d(5)), Outcome::Close);
    }
}
