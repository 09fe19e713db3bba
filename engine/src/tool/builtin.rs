//! The tools Aetheria ships with.

pub(crate) mod code;
pub(crate) mod fs;
pub(crate) mod web;
