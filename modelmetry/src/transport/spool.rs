//! The disk spool: request bodies that could not be delivered in time, kept as files until a
//! later run (or an explicit replay) sends them.
//!
//! Each file is one request body, written to a hidden temp file and renamed into place, so a
//! reader never sees half a file. Files are written *before* their request is sent and
//! removed once the server has answered for every record in them: a process that dies, exits
//! or is stuck on a hanging server mid-send loses nothing, at the price of a possible
//! duplicate (the server drops it by `XID`). The directory is bounded in bytes; a file that
//! cannot be read back is renamed `*.corrupt` and skipped, and one larger than the byte
//! bound is renamed `*.oversize` without being read.
//!
//! Several processes may share the directory:
//!
//! - A file's name says which destination it is for: `<millis>-<pid>-<seq>.<dest>.json`,
//!   where `<dest>` is 16 hex digits of a hash of the API key and the ingest URL (never the
//!   key itself). A process replays only its own destination's files and says how many
//!   others it left.
//! - A file being written or sent is *claimed*: named `<file>.claimed-<pid>`, by an atomic
//!   rename, so no other process sends it at the same time. A claim whose process is gone
//!   (no `/proc/<pid>`, or, where there is no `/proc`, older than an hour) is given back when
//!   a spool opens.
//! - Files are created `0600` and the directory `0700` (they hold prompts and outputs); the
//!   directory is fsynced after each rename that makes a file appear.
//!
//! In background delivery the spool also holds the *journal*: each finished trace, redacted
//! and encoded, is appended as one line (one ingest body) to a [`Segment`] before the call
//! that finished it returns, so that the traces waiting in the buffer survive the process
//! (`exit`, a signal, `kill -9`). A segment is claimed while its process lives; its batch's
//! export removes it once every record in it is delivered or counted, and a dead process's
//! segment is replayed like any other file. Appends are not fsynced: a line is in the
//! kernel's page cache when `write` returns, which outlives the process however it ends, but
//! not a power cut or a kernel crash (an fsync per trace would cost a millisecond or more).

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use crate::diag;

/// Temp files older than this are left over from a process that died while writing.
const STALE_TEMP: Duration = Duration::from_secs(60);
/// Without `/proc` to ask whether a claim's process lives, a claim this old is taken back.
const STALE_CLAIM: Duration = Duration::from_secs(3600);
const CLAIMED: &str = ".claimed-";

pub(crate) struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    /// 16 hex digits naming the destination (a hash of key and URL).
    destination: String,
    state: Mutex<State>,
}

struct State {
    /// Bytes in the directory, as last listed plus what we wrote and removed since.
    used: u64,
    /// Files this process is sending right now: nobody else here may send or remove them.
    claimed: HashSet<PathBuf>,
    seq: u64,
}

/// A journal segment being appended to by this process (claimed by it): one ingest body a
/// line. [`Spool::seal`] turns it into a [`SpoolFile`] to remove or release.
#[derive(Debug)]
pub(crate) struct Segment {
    file: fs::File,
    path: PathBuf,
    len: u64,
    /// A write failed part-way: nothing more is appended, so a torn line is never followed
    /// by another.
    broken: bool,
}

/// A spool file this process has claimed. Give it back with `remove`, `release`, `replace`
/// or `quarantine`.
#[derive(Debug)]
pub(crate) struct SpoolFile {
    path: PathBuf,
    len: u64,
}

impl SpoolFile {
    /// The file's name without its claim.
    pub(crate) fn name(&self) -> String {
        let name = file_name(&self.path);
        match name.find(CLAIMED) {
            Some(i) => name[..i].to_owned(),
            None => name,
        }
    }

    /// Its size on disk.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }
}

/// The destination tag of `key` sent to `url`: 16 hex digits of a 64-bit FNV-1a hash (stable
/// across processes and builds, unlike `std`'s hasher). It names, never reveals, the key.
pub(crate) fn destination_tag(key: &str, url: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes().chain([0u8]).chain(url.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[derive(Debug)]
pub(crate) enum SpoolError {
    /// Writing would take the directory past its byte bound.
    Full,
    Io(std::io::Error),
}

impl Spool {
    /// The spool in `dir` (created `0700` if missing), holding at most `max_bytes`, for the
    /// destination tagged `destination` (see [`destination_tag`]).
    pub(crate) fn open(dir: &Path, max_bytes: u64, destination: String) -> Spool {
        if let Err(e) = create_private_dir(dir) {
            diag::report(format_args!(
                "cannot create the spool directory {}: {e}; undeliverable records will be counted as spool_write_failed",
                dir.display()
            ));
        }
        let spool = Spool {
            dir: dir.to_owned(),
            max_bytes,
            destination,
            state: Mutex::new(State {
                used: 0,
                claimed: HashSet::new(),
                seq: 0,
            }),
        };
        spool.clean_stale_temps();
        spool.take_back_stale_claims();
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

    /// Give back claims whose process is gone (it died while sending).
    fn take_back_stale_claims(&self) {
        for p in entries(&self.dir) {
            let name = file_name(&p);
            let Some(i) = name.find(CLAIMED) else {
                continue;
            };
            let pid = &name[i + CLAIMED.len()..];
            let proc_dir = Path::new("/proc");
            let gone = if proc_dir.is_dir() {
                !proc_dir.join(pid).exists()
            } else {
                fs::metadata(&p)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .is_some_and(|age| age > STALE_CLAIM)
            };
            if gone && pid != std::process::id().to_string() {
                let _ = fs::rename(&p, self.dir.join(&name[..i]));
            }
        }
        sync_dir(&self.dir);
    }

    /// Write `body` as a new file, claimed by the caller. `allowance`: bytes about to be
    /// freed by the caller (a file this one replaces), counted as free for the bound.
    fn write_new(&self, body: &[u8], allowance: u64) -> Result<SpoolFile, SpoolError> {
        let len = body.len() as u64;
        let name = self.reserve_name(len, allowance)?;
        // Written claimed: another process sharing the directory must not send it while
        // this one does.
        let path = self
            .dir
            .join(format!("{name}{CLAIMED}{}", std::process::id()));
        let temp = self.dir.join(format!(".{name}.tmp"));
        let written = (|| {
            let mut f = private_file().open(&temp)?;
            f.write_all(body)?;
            f.sync_all()?;
            fs::rename(&temp, &path)?;
            sync_dir(&self.dir);
            Ok(())
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

    /// A file name for a new spool file of this destination (unclaimed), reserving `len`
    /// bytes of the bound (less `allowance`, bytes the caller is about to free).
    fn reserve_name(&self, len: u64, allowance: u64) -> Result<String, SpoolError> {
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
        Ok(format!(
            "{millis:013}-{}-{:06}.{}.json",
            std::process::id(),
            st.seq,
            self.destination
        ))
    }

    /// Start a journal segment: an empty file, claimed by this process, that
    /// [`append`](Self::append) adds lines to.
    pub(crate) fn open_segment(&self) -> Result<Segment, SpoolError> {
        let name = self.reserve_name(0, 0)?;
        let path = self
            .dir
            .join(format!("{name}{CLAIMED}{}", std::process::id()));
        let file = private_file().open(&path).map_err(SpoolError::Io)?;
        Ok(Segment {
            file,
            path,
            len: 0,
            broken: false,
        })
    }

    /// Append `line` (one ingest body and its newline) to `segment`, within the spool's byte
    /// bound. One `write` call: when it returns, the line outlives this process.
    pub(crate) fn append(&self, segment: &mut Segment, line: &[u8]) -> Result<(), SpoolError> {
        if segment.broken {
            return Err(SpoolError::Io(std::io::Error::other(
                "an earlier write to this journal segment failed",
            )));
        }
        let len = line.len() as u64;
        {
            let mut st = self.lock();
            if st.used + len > self.max_bytes {
                return Err(SpoolError::Full);
            }
            st.used += len;
        }
        match segment.file.write_all(line) {
            Ok(()) => {
                segment.len += len;
                Ok(())
            }
            Err(e) => {
                segment.broken = true;
                // Part of the line may be on disk: it stays counted in `used` until the
                // segment goes, which only overstates the directory's size.
                Err(SpoolError::Io(e))
            }
        }
    }

    /// Stop appending to `segment`; the file it became, still claimed by this process.
    pub(crate) fn seal(&self, segment: Segment) -> SpoolFile {
        let Segment { path, len, .. } = segment;
        self.lock().claimed.insert(path.clone());
        SpoolFile { path, len }
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

    /// Leave a file on disk, for a later replay (by this process or another).
    pub(crate) fn release(&self, f: SpoolFile) {
        let _ = fs::rename(&f.path, self.dir.join(f.name()));
        sync_dir(&self.dir);
        self.lock().claimed.remove(&f.path);
    }

    /// Rename a file that cannot be read back to `<name>.<why>` (`corrupt`, `oversize`), so
    /// it is never tried again but stays for a person to look at.
    pub(crate) fn quarantine(&self, f: SpoolFile, why: &str) {
        let _ = fs::rename(&f.path, self.dir.join(format!("{}.{why}", f.name())));
        self.lock().claimed.remove(&f.path);
    }

    /// Claim every unclaimed spool file of this destination, oldest first, by renaming it
    /// into a name claimed by this process (a file another process claimed first is skipped).
    /// Also returns how many files of other destinations were left in place.
    pub(crate) fn claim_pending(&self) -> (Vec<SpoolFile>, usize) {
        let suffix = format!(".{}.json", self.destination);
        let mut paths = Vec::new();
        let mut others = 0;
        for p in entries(&self.dir) {
            let n = file_name(&p);
            if n.starts_with('.') || !n.ends_with(".json") {
                continue;
            }
            if n.ends_with(&suffix) {
                paths.push(p);
            } else {
                others += 1;
            }
        }
        paths.sort();
        let used = self.measure();
        self.lock().used = used;
        let mut out = Vec::new();
        for path in paths {
            let mut claimed = path.clone().into_os_string();
            claimed.push(format!("{CLAIMED}{}", std::process::id()));
            let claimed = PathBuf::from(claimed);
            // The rename is the claim: of two processes, one wins, the other finds no file.
            if fs::rename(&path, &claimed).is_err() {
                continue;
            }
            let Ok(meta) = fs::metadata(&claimed) else {
                continue;
            };
            self.lock().claimed.insert(claimed.clone());
            out.push(SpoolFile {
                path: claimed,
                len: meta.len(),
            });
        }
        (out, others)
    }

    /// The file's bytes; never more than the spool's byte bound (a larger file is an error,
    /// found without reading it whole).
    pub(crate) fn read(&self, f: &SpoolFile) -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let mut bytes = Vec::new();
        fs::File::open(&f.path)?
            .take(self.max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > self.max_bytes {
            return Err(std::io::Error::other("larger than the spool's byte bound"));
        }
        Ok(bytes)
    }

    /// The spool's byte bound: a file larger than this is never read.
    pub(crate) fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// True if there are unclaimed files of this destination.
    pub(crate) fn has_backlog(&self) -> bool {
        let suffix = format!(".{}.json", self.destination);
        entries(&self.dir).any(|p| {
            let n = file_name(&p);
            !n.starts_with('.') && n.ends_with(&suffix)
        })
    }
}

/// Create `dir` (and its parents) readable by its owner only.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Options for a new file readable by its owner only.
fn private_file() -> fs::OpenOptions {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Make the directory's entries (a rename) durable. Best effort: not every platform can
/// open a directory.
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
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

    fn tag() -> String {
        destination_tag("key-a", "https://api.example/signals/ingest/v1")
    }

    #[test]
    fn files_are_written_whole_claimed_and_bounded() {
        let dir = temp_dir("bound");
        let spool = Spool::open(&dir, 100, tag());
        let a = spool.write(&[b'a'; 60]).expect("room for 60 bytes");
        assert!(matches!(spool.write(&[b'b'; 60]), Err(SpoolError::Full)));
        // Claimed by us: a replay must not pick it up.
        assert!(spool.claim_pending().0.is_empty());
        // Replacing frees the old file's room first.
        spool
            .replace(a, &[b'c'; 90])
            .expect("room once the old file goes");
        let pending = spool.claim_pending().0;
        assert_eq!(pending.len(), 1);
        assert_eq!(spool.read(&pending[0]).expect("read"), vec![b'c'; 90]);
        for f in pending {
            spool.quarantine(f, "corrupt");
        }
        assert!(
            spool.claim_pending().0.is_empty(),
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
        let first = Spool::open(&dir, 1 << 20, tag());
        let f = first.write(b"{}").expect("write");
        first.release(f);
        let second = Spool::open(&dir, 1 << 20, tag());
        assert!(second.has_backlog());
        let files = second.claim_pending().0;
        assert_eq!(files.len(), 1);
        second.remove(files.into_iter().next().expect("one file"));
        assert!(!second.has_backlog());
        assert!(entries(&dir).next().is_none());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_is_claimed_by_one_spool_only_and_only_by_its_destination() {
        let dir = temp_dir("claims");
        let writer = Spool::open(&dir, 1 << 20, tag());
        for _ in 0..3 {
            let f = writer.write(b"{}").expect("write");
            writer.release(f);
        }
        let other_tenant = Spool::open(&dir, 1 << 20, destination_tag("key-b", "https://x/"));
        let (mine, others) = other_tenant.claim_pending();
        assert!(
            mine.is_empty(),
            "another destination's files are not replayed"
        );
        assert_eq!(others, 3);
        // Two spools on one directory (as two processes): each file goes to one of them.
        let a = Spool::open(&dir, 1 << 20, tag());
        let b = Spool::open(&dir, 1 << 20, tag());
        let (got_a, _) = a.claim_pending();
        let (got_b, _) = b.claim_pending();
        assert_eq!(got_a.len() + got_b.len(), 3);
        assert!(got_b.is_empty(), "all were claimed by the first");
        for f in got_a {
            assert!(file_name(&f.path).contains(CLAIMED), "{:?}", f.path);
            a.release(f);
        }
        assert_eq!(
            b.claim_pending().0.len(),
            3,
            "released claims are free again"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn files_and_directory_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("perms").join("nested");
        let spool = Spool::open(&dir, 1 << 20, tag());
        let f = spool.write(b"{}").expect("write");
        let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&f.path), 0o600);
        spool.remove(f);
        let _ = fs::remove_dir_all(dir.parent().expect("parent"));
    }

    #[test]
    fn the_destination_tag_names_the_key_without_showing_it() {
        let t = destination_tag(
            "mm_secret_key",
            "https://api.modelmetry.com/signals/ingest/v1",
        );
        assert_eq!(t.len(), 16);
        assert!(!t.contains("secret"));
        assert_ne!(
            t,
            destination_tag(
                "mm_other_key",
                "https://api.modelmetry.com/signals/ingest/v1"
            )
        );
        assert_ne!(
            t,
            destination_tag(
                "mm_secret_key",
                "https://eu.modelmetry.com/signals/ingest/v1"
            )
        );
    }
}
