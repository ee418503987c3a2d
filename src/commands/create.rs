//! `husk create`: a container whose process waits for `start`.

use anyhow::{Context, Result};
use husk::container::create::{create, CreateOptions};

use crate::cli::{CreateArgs, Global};

pub fn options(a: &CreateArgs) -> CreateOptions {
    CreateOptions {
        bundle: a.bundle.clone(),
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        console_fd: None,
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds as i32,
    }
}

pub fn run(a: CreateArgs, g: &Global) -> Result<i32> {
    let store = super::store(g)?;
    create(&store, &a.id, options(&a))
        .with_context(|| format!("failed to create container {:?}", a.id))?;
    Ok(0)
}
