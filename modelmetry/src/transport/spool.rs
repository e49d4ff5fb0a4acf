//! The disk spool: request bodies that could not be delivered in time, kept as files until a
//! later run (or an explicit replay) sends them.
//!
//! Each file is one request body, written to a hidden temp file and renamed into place, so a
//! reader never sees half a file. Files are written *before* their request is sent and
//! removed once the server has answered for every record in them: a process that dies, exits
//! or is stuck on a hanging server mid-send loses nothing, at the price of a possible
//! duplicate (the server drops it by `XID`). The directory is bounded in bytes; a file that
//! cannot be read back is renamed `*.corrupt` and skipped.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use crate::diag;

/// Temp files older than this are left over from a process that died while writing.
const STALE_TEMP: Duration = Duration::from_secs(60);

pub(crate) struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    state: Mutex<State>,
}

struct State {
    /// Bytes in the directory, as last listed plus what we wrote and removed since.
    used: u64,
    /// Files this process is sending right now: nobody else here may send or remove them.
    claimed: HashSet<PathBuf>,
    seq: u64,
}

/// A spool file this process has claimed. Give it back with `remove`, `release`, `replace`
/// or `quarantine`.
#[derive(Debug)]
pub(crate) struct SpoolFile {
    path: PathBuf,
    len: u64,
}

impl SpoolFile {
    pub(crate) fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

#[derive(Debug)]
pub(crate) enum SpoolError {
    /// Writing would take the directory past its byte bound.
    Full,
    Io(std::io::Error),
}

impl Spool {
    /// The spool in `dir` (created if missing), holding at most `max_bytes`.
    pub(crate) fn open(dir: &Path, max_bytes: u64) -> Spool {
        if let Err(e) = fs::create_dir_all(dir) {
            diag::report(format_args!(
                "cannot create the spool directory {}: {e}; undeliverable records will be counted as spool_write_failed",
                dir.display()
            ));
        }
        let spool = Spool {
            dir: dir.to_owned(),
            max_bytes,
            state: Mutex::new(State {
                used: 0,
                claimed: HashSet::new(),
                seq: 0,
            }),
        };
        spool.clean_stale_temps();
        let used = spool.measure();
        spool.lock().used = used;
        spool
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The bytes of every file in the directory (corrupt ones included: they are on disk).
    fn measure(&self) -> u64 {
        entries(&self.dir)
            .filter_map(|p| fs::metadata(p).ok())
            .filter(fs::Metadata::is_file)
            .map(|m| m.len())
            .sum()
    }

    fn clean_stale_temps(&self) {
        for p in entries(&self.dir) {
            let is_temp = file_name(&p).starts_with('.') && file_name(&p).ends_with(".tmp");
            let old = fs::metadata(&p)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > STALE_TEMP);
            if is_temp && old {
                let _ = fs::remove_file(&p);
            }
        }
    }

    /// Write `body` as a new file, claimed by the caller. `allowance`: bytes about to be
    /// freed by the caller (a file this one replaces), counted as free for the bound.
    fn write_new(&self, body: &[u8], allowance: u64) -> Result<SpoolFile, SpoolError> {
        let len = body.len() as u64;
        let name = {
            let mut st = self.lock();
            if st.used.saturating_sub(allowance) + len > self.max_bytes {
                return Err(SpoolError::Full);
            }
            // Reserve the room now, so concurrent writers cannot both pass the bound.
            st.used += len;
            st.seq += 1;
            let millis = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            format!("{millis:013}-{}-{:06}.json", std::process::id(), st.seq)
        };
        let path = self.dir.join(&name);
        let temp = self.dir.join(format!(".{name}.tmp"));
        let written = (|| {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)?;
            f.write_all(body)?;
            f.sync_all()?;
            fs::rename(&temp, &path)
        })();
        let mut st = self.lock();
        match written {
            Ok(()) => {
                st.claimed.insert(path.clone());
                Ok(SpoolFile { path, len })
            }
            Err(e) => {
                st.used = st.used.saturating_sub(len);
                drop(st);
                let _ = fs::remove_file(&temp);
                Err(SpoolError::Io(e))
            }
        }
    }

    /// Keep `body` on disk until it is delivered.
    pub(crate) fn write(&self, body: &[u8]) -> Result<SpoolFile, SpoolError> {
        self.write_new(body, 0)
    }

    /// Replace `old` with `body` (what is left of it to deliver). On failure `old` is kept,
    /// released, and the error returned: its records are then still all on disk.
    pub(crate) fn replace(&self, old: SpoolFile, body: &[u8]) -> Result<(), SpoolError> {
        match self.write_new(body, old.len) {
            Ok(new) => {
                self.remove(old);
                self.release(new);
                Ok(())
            }
            Err(e) => {
                self.release(old);
                Err(e)
            }
        }
    }

    /// Delete a file whose records have all been answered for.
    pub(crate) fn remove(&self, f: SpoolFile) {
        let gone = match fs::remove_file(&f.path) {
            Ok(()) => true,
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        };
        let mut st = self.lock();
        st.claimed.remove(&f.path);
        if gone {
            st.used = st.used.saturating_sub(f.len);
        }
    }

    /// Leave a file on disk, for a later replay.
    pub(crate) fn release(&self, f: SpoolFile) {
        self.lock().claimed.remove(&f.path);
    }

    /// Rename a file that cannot be read back to `<name>.corrupt`, so it is never tried again
    /// but stays for a person to look at.
    pub(crate) fn quarantine(&self, f: SpoolFile) {
        let mut target = f.path.clone().into_os_string();
        target.push(".corrupt");
        let _ = fs::rename(&f.path, PathBuf::from(target));
        self.lock().claimed.remove(&f.path);
    }

    /// Claim every spool file that nobody in this process is sending, oldest first.
    pub(crate) fn claim_pending(&self) -> Vec<SpoolFile> {
        let mut paths: Vec<PathBuf> = entries(&self.dir)
            .filter(|p| {
                let n = file_name(p);
                !n.starts_with('.') && n.ends_with(".json")
            })
            .collect();
        paths.sort();
        let used = self.measure();
        let mut st = self.lock();
        st.used = used;
        let mut out = Vec::new();
        for path in paths {
            if st.claimed.contains(&path) {
                continue;
            }
            let Ok(meta) = fs::metadata(&path) else {
                continue;
            };
            st.claimed.insert(path.clone());
            out.push(SpoolFile {
                path,
                len: meta.len(),
            });
        }
        out
    }

    pub(crate) fn read(&self, f: &SpoolFile) -> std::io::Result<Vec<u8>> {
        fs::read(&f.path)
    }

    /// True if there are files nobody here is sending.
    pub(crate) fn has_backlog(&self) -> bool {
        let st = self.lock();
        entries(&self.dir).any(|p| {
            let n = file_name(&p);
            !n.starts_with('.') && n.ends_with(".json") && !st.claimed.contains(&p)
        })
    }
}

fn entries(dir: &Path) -> impl Iterator<Item = PathBuf> {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(label: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mm-spool-{label}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn files_are_written_whole_claimed_and_bounded() {
        let dir = temp_dir("bound");
        let spool = Spool::open(&dir, 100);
        let a = spool.write(&[b'a'; 60]).expect("room for 60 bytes");
        assert!(matches!(spool.write(&[b'b'; 60]), Err(SpoolError::Full)));
        // Claimed by us: a replay in this process must not pick it up.
        assert!(spool.claim_pending().is_empty());
        // Replacing frees the old file's room first.
        spool
            .replace(a, &[b'c'; 90])
            .expect("room once the old file goes");
        let pending = spool.claim_pending();
        assert_eq!(pending.len(), 1);
        assert_eq!(spool.read(&pending[0]).expect("read"), vec![b'c'; 90]);
        for f in pending {
            spool.quarantine(f);
        }
        assert!(
            spool.claim_pending().is_empty(),
            "a corrupt file is skipped"
        );
        assert!(
            matches!(spool.write(&[b'd'; 20]), Err(SpoolError::Full)),
            "corrupt files still take their room on disk"
        );
        let names: Vec<String> = entries(&dir).map(|p| file_name(&p)).collect();
        assert_eq!(names.len(), 1);
        assert!(names[0].ends_with(".json.corrupt"), "{names:?}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_second_spool_on_the_same_directory_sees_released_files() {
        let dir = temp_dir("restart");
        let first = Spool::open(&dir, 1 << 20);
        let f = first.write(b"{}").expect("write");
        first.release(f);
        let second = Spool::open(&dir, 1 << 20);
        assert!(second.has_backlog());
        let files = second.claim_pending();
        assert_eq!(files.len(), 1);
        second.remove(files.into_iter().next().expect("one file"));
        assert!(!second.has_backlog());
        assert!(entries(&dir).next().is_none());
        let _ = fs::remove_dir_all(&dir);
    }
}
