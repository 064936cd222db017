//! Set group. (Filled in by the data-types work.)

use super::spec::{CommandSpec, Group};

#[allow(dead_code)]
const G: Group = Group::Set;

pub static COMMANDS: &[CommandSpec] = &[];
