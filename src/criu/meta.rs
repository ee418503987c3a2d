//! husk's description of a checkpoint, beside CRIU's images: the
//! container it came from, its stdio and external mounts, and runc's
//! descriptors.json, so that either runtime's images restore.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{classify_stdio, CriuError, ExternalMount, Result, StdioFd};

/// husk's description of a checkpoint, in the image directory.
pub const META_FILE: &str = "husk-checkpoint.json";
/// runc's list of the init's stdio (the targets of /proc/<pid>/fd/0-2).
pub const DESCRIPTORS_FILE: &str = "descriptors.json";
/// The image CRIU writes last on a successful dump: its presence marks an image.
pub const INVENTORY_FILE: &str = "inventory.img";
/// husk's description of a checkpoint, beside CRIU's images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub id: String,
    /// The bundle the container was created from (restore's default).
    pub bundle: PathBuf,
    pub stdio: Vec<StdioFd>,
    pub mounts: Vec<ExternalMount>,
    /// The dump was told to recreate the network namespace empty.
    #[serde(default)]
    pub empty_net: bool,
}

impl Meta {
    /// Writes husk-checkpoint.json and runc's descriptors.json.
    pub fn write(&self, images: &Path) -> Result<()> {
        let write = |name: &str, bytes: Vec<u8>| {
            let path = images.join(name);
            fs::write(&path, bytes).map_err(|source| CriuError::Io {
                what: "write",
                path,
                source,
            })
        };
        write(
            META_FILE,
            serde_json::to_vec_pretty(self).expect("a description of strings serialises"),
        )?;
        let links: Vec<&str> = self.stdio.iter().map(|s| s.link.as_str()).collect();
        write(
            DESCRIPTORS_FILE,
            serde_json::to_vec(&links).expect("strings serialise"),
        )
    }

    /// Reads a checkpoint's description: husk's, else (an image runc made)
    /// the stdio from runc's descriptors.json.
    pub fn read(images: &Path) -> Result<Meta> {
        if !images.join(INVENTORY_FILE).exists() {
            return Err(CriuError::NoImage {
                path: images.into(),
            });
        }
        let path = images.join(META_FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| CriuError::Meta {
                path,
                msg: e.to_string(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let path = images.join(DESCRIPTORS_FILE);
                let bytes = fs::read(&path).map_err(|source| CriuError::Io {
                    what: "read",
                    path: path.clone(),
                    source,
                })?;
                let links: Vec<String> =
                    serde_json::from_slice(&bytes).map_err(|e| CriuError::Meta {
                        path,
                        msg: e.to_string(),
                    })?;
                Ok(Meta {
                    id: String::new(),
                    bundle: PathBuf::new(),
                    stdio: links
                        .iter()
                        .enumerate()
                        .map(|(fd, l)| classify_stdio(fd as i32, l, None, None, &BTreeSet::new()))
                        .collect(),
                    mounts: Vec::new(),
                    empty_net: true,
                })
            }
            Err(source) => Err(CriuError::Io {
                what: "read",
                path,
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::criu::MountSource;

    #[test]
    fn meta_round_trips_and_a_runc_image_gives_its_pipes() {
        let dir = std::env::temp_dir().join(format!("husk-criu-meta-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        assert!(matches!(Meta::read(&dir), Err(CriuError::NoImage { .. })));
        fs::write(dir.join(INVENTORY_FILE), b"").unwrap();
        fs::write(
            dir.join(DESCRIPTORS_FILE),
            br#"["/dev/null","pipe:[7]","pipe:[8]"]"#,
        )
        .unwrap();
        let runc = Meta::read(&dir).unwrap();
        assert_eq!(runc.stdio[1].key.as_deref(), Some("pipe:[7]"));
        assert_eq!(runc.stdio[0].key, None);
        let m = Meta {
            id: "c".into(),
            bundle: "/b".into(),
            stdio: runc.stdio.clone(),
            mounts: vec![ExternalMount {
                key: "/sys/fs/cgroup".into(),
                source: MountSource::Cgroup { name: "".into() },
            }],
            empty_net: true,
        };
        m.write(&dir).unwrap();
        assert_eq!(Meta::read(&dir).unwrap(), m);
        let text = fs::read_to_string(dir.join(META_FILE)).unwrap();
        assert!(text.contains(r#""kind": "cgroup""#), "{text}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
