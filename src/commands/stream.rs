//! Stream group. (Being filled in.)

use super::spec::{CommandSpec, Group};

#[allow(dead_code)]
const G: Group = Group::Stream;

pub static COMMANDS: &[CommandSpec] = &[];
