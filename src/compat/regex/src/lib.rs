//! `regex` as seen by husk's dependencies, served by regex-lite. The one
//! difference that can show: `\d`, `\w` and `\s` match ASCII only, which is
//! what a CPU list or any other OCI field means by them.
pub use regex_lite::*;
