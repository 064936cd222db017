//! scripting group. (Being filled in.)

use super::spec::{CommandSpec, Group};

#[allow(dead_code)]
const G: Group = Group::Scripting;

pub static COMMANDS: &[CommandSpec] = &[];
