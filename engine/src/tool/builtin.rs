//! The tools Aetheria ships with.

pub(crate) mod fs;
