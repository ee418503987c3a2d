//! Container logs: the shim turns the container's stdout and stderr pipes
//! into lines in `logs/container.log`, in the CRI format
//! `<RFC 3339 time> <stdout|stderr> <F|P> <text>` (P: a partial line, the
//! rest follows), and rotates the file by size to container.log.1 … .N.
//! Rotation happens between records, so nothing is lost or split.
//!
//! Runs in: the shim (writer); `husk logs` (reader).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

pub const LOG_DIR: &str = "logs";
pub const LOG_FILE: &str = "container.log";
/// A line longer than this is written as partial records.
const MAX_LINE: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// The shim's writer. It makes `logs/` and opens container.log at the
/// first record: a container that writes nothing has no log files.
pub struct Writer {
    state_dir: PathBuf,
    dir: PathBuf,
    max_size: u64,
    max_files: u32,
    file: Option<File>,
    size: u64,
    /// Unfinished line per stream.
    pending: [Vec<u8>; 2],
}

/// Makes `<state dir>/logs` if it is not there yet; returns its path.
/// Never create_dir_all: a shim that outlives `delete` must not bring the
/// container's directory back (a later create of the id failed with
/// "already exists", and list did not show it).
pub fn make_dir(state_dir: &Path) -> io::Result<PathBuf> {
    let dir = state_dir.join(LOG_DIR);
    match fs::create_dir(&dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(dir),
    }
}

impl Writer {
    /// A writer appending to `<state dir>/logs/container.log`.
    pub fn new(state_dir: &Path, max_size: u64, max_files: u32) -> Writer {
        Writer {
            state_dir: state_dir.to_path_buf(),
            dir: state_dir.join(LOG_DIR),
            max_size,
            max_files,
            file: None,
            size: 0,
            pending: [Vec::new(), Vec::new()],
        }
    }

    /// container.log, opened (appending) on first use.
    fn file(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            make_dir(&self.state_dir)?;
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join(LOG_FILE))?;
            self.size = f.metadata()?.len();
            self.file = Some(f);
        }
        Ok(self.file.as_mut().expect("opened above"))
    }

    /// Takes a chunk read from `stream`: complete lines become records, the
    /// rest waits for its end (or is written as partial when too long).
    pub fn write(&mut self, stream: Stream, mut data: &[u8]) -> io::Result<()> {
        let i = stream as usize;
        while let Some(nl) = data.iter().position(|b| *b == b'\n') {
            let mut line = std::mem::take(&mut self.pending[i]);
            line.extend_from_slice(&data[..nl]);
            self.record(stream, false, &line)?;
            data = &data[nl + 1..];
        }
        self.pending[i].extend_from_slice(data);
        while self.pending[i].len() >= MAX_LINE {
            let rest = self.pending[i].split_off(MAX_LINE);
            let part = std::mem::replace(&mut self.pending[i], rest);
            self.record(stream, true, &part)?;
        }
        Ok(())
    }

    /// The stream ended: a last line without a newline is still a line.
    pub fn close_stream(&mut self, stream: Stream) -> io::Result<()> {
        let line = std::mem::take(&mut self.pending[stream as usize]);
        if !line.is_empty() {
            self.record(stream, false, &line)?;
        }
        Ok(())
    }

    fn record(&mut self, stream: Stream, partial: bool, text: &[u8]) -> io::Result<()> {
        let mut rec = Vec::with_capacity(text.len() + 48);
        rec.extend_from_slice(crate::timestamp::now().as_bytes());
        rec.push(b' ');
        rec.extend_from_slice(stream.name().as_bytes());
        rec.extend_from_slice(if partial { b" P " } else { b" F " });
        rec.extend_from_slice(text);
        rec.push(b'\n');
        self.file()?;
        if self.size > 0 && self.size + rec.len() as u64 > self.max_size {
            self.rotate()?;
        }
        self.file()?.write_all(&rec)?;
        self.size += rec.len() as u64;
        Ok(())
    }

    /// container.log → .1 → .2 …; the oldest beyond max_files goes.
    fn rotate(&mut self) -> io::Result<()> {
        let name = |n: u32| {
            self.dir.join(if n == 0 {
                LOG_FILE.to_string()
            } else {
                format!("{LOG_FILE}.{n}")
            })
        };
        if self.max_files == 0 {
            fs::remove_file(name(0))?;
        } else {
            let _ = fs::remove_file(name(self.max_files));
            for n in (0..self.max_files).rev() {
                match fs::rename(name(n), name(n + 1)) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
        }
        self.file = Some(OpenOptions::new().create(true).append(true).open(name(0))?);
        self.size = 0;
        Ok(())
    }
}

/// One parsed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub time: String,
    pub stream: Stream,
    pub partial: bool,
    pub text: Vec<u8>,
}

pub fn parse_record(line: &[u8]) -> Option<Record> {
    let mut it = line.splitn(4, |b| *b == b' ');
    let time = String::from_utf8(it.next()?.to_vec()).ok()?;
    let stream = match it.next()? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    let partial = it.next()? == b"P";
    Some(Record {
        time,
        stream,
        partial,
        text: it.next().unwrap_or_default().to_vec(),
    })
}

/// The log files of a container, oldest first.
pub fn files(state_dir: &Path) -> Vec<PathBuf> {
    let dir = state_dir.join(LOG_DIR);
    let mut rotated: Vec<(u32, PathBuf)> = fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let n = name.strip_prefix(&format!("{LOG_FILE}."))?.parse().ok()?;
            Some((n, dir.join(name)))
        })
        .collect();
    rotated.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut out: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    let current = dir.join(LOG_FILE);
    if current.exists() {
        out.push(current);
    }
    out
}

/// Every record of a file.
pub fn read_file(path: &Path) -> Vec<Record> {
    let Ok(f) = File::open(path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut r = BufReader::new(f);
    let mut line = Vec::new();
    while r.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if let Some(rec) = parse_record(&line) {
            out.push(rec);
        }
        line.clear();
    }
    out
}

/// Writes a record to `out`/`err` as the container wrote it (a partial
/// record gets no newline), optionally prefixed by its time.
pub fn print(
    rec: &Record,
    timestamps: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<()> {
    let w: &mut dyn Write = match rec.stream {
        Stream::Stdout => out,
        Stream::Stderr => err,
    };
    if timestamps {
        w.write_all(rec.time.as_bytes())?;
        w.write_all(b" ")?;
    }
    w.write_all(&rec.text)?;
    if !rec.partial {
        w.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("husk-logs-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn all(d: &Path) -> Vec<Record> {
        files(d).iter().flat_map(|f| read_file(f)).collect()
    }

    #[test]
    fn lines_are_split_across_chunks_and_streams_kept_apart() {
        let d = tmp("lines");
        let mut w = Writer::new(&d, 1 << 20, 2);
        w.write(Stream::Stdout, b"hel").unwrap();
        w.write(Stream::Stderr, b"oops\n").unwrap();
        w.write(Stream::Stdout, b"lo\nworld").unwrap();
        w.close_stream(Stream::Stdout).unwrap();
        let r = all(&d);
        let texts: Vec<(Stream, &[u8])> = r.iter().map(|x| (x.stream, x.text.as_slice())).collect();
        assert_eq!(
            texts,
            [
                (Stream::Stderr, &b"oops"[..]),
                (Stream::Stdout, b"hello"),
                (Stream::Stdout, b"world")
            ]
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn rotation_keeps_every_line_and_at_most_max_files() {
        let d = tmp("rotate");
        let mut w = Writer::new(&d, 4096, 2);
        for i in 0..200 {
            w.write(Stream::Stdout, format!("line {i:04}\n").as_bytes())
                .unwrap();
        }
        let f = files(&d);
        assert_eq!(f.len(), 3, "current + 2 rotated: {f:?}");
        for p in &f {
            assert!(fs::metadata(p).unwrap().len() <= 4096);
        }
        // The oldest lines were dropped with the oldest file; the rest are whole and in order.
        let r = all(&d);
        let nums: Vec<u32> = r
            .iter()
            .map(|x| String::from_utf8_lossy(&x.text)[5..].parse().unwrap())
            .collect();
        assert_eq!(*nums.last().unwrap(), 199);
        assert!(
            nums.windows(2).all(|w| w[1] == w[0] + 1),
            "a line was lost or reordered"
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn long_lines_become_partial_records_that_print_back_whole() {
        let d = tmp("long");
        let mut w = Writer::new(&d, 1 << 20, 1);
        let long = vec![b'x'; MAX_LINE * 2 + 10];
        w.write(Stream::Stdout, &long).unwrap();
        w.write(Stream::Stdout, b"\n").unwrap();
        let r = all(&d);
        assert_eq!(r.iter().filter(|x| x.partial).count(), 2);
        let mut out = Vec::new();
        for rec in &r {
            print(rec, false, &mut out, &mut io::sink()).unwrap();
        }
        assert_eq!(out.len(), long.len() + 1);
        fs::remove_dir_all(&d).unwrap();
    }
}
