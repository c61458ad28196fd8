//! Zero-copy replay of regular files: the file is mapped read-only, a window at a time,
//! and frames travel to the workers as references into the window instead of copies.
//!
//! Why: reading a capture with `read()` copies every byte from the page cache into our
//! buffer, and batching copied it again; for bulk traffic the workers look at the first
//! hundred bytes of a frame and nothing else. Mapped, a 250 MB capture costs page-table
//! entries, not 500 MB of copies, and replay becomes cheaper than `tcpdump -r FILE -w
//! /dev/null`, which copies it twice.
//!
//! Memory: a window stays mapped (and counted in RSS) while any batch holds a frame of it;
//! when the last holder lets go, a reaper thread unmaps it, so that the page-table
//! teardown is not paid on a worker's parse path. All windows of a process share one [`MappedBudget`]; a
//! reader that would exceed it waits until the workers release a window. That cannot
//! deadlock because the dispatcher sends every batch holding an older window as soon as
//! frames of a new window appear (`pipeline::dispatch`), so whatever the reader waits for
//! is in a worker queue.
//!
//! The one hazard of mapping: if another process truncates the file while it is being
//! read, touching the lost pages raises SIGBUS. [`install_sigbus_message`] turns that
//! into one clear error line and exit status 1 instead of a core dump.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Condvar, Mutex, Once, OnceLock};

/// Bytes mapped per window (more when one record is larger). Large enough that mapping
/// costs one syscall per ~4,000 typical packets, small enough that a window is released
/// soon after the workers are past it.
pub const WINDOW_BYTES: usize = 4 << 20;

/// Most bytes of all windows mapped at once (one window is always allowed, whatever its
/// size). With workers keeping up, two or three windows are live; the cap only binds
/// when workers lag, and keeps peak RSS far under the 128 MiB target.
pub const MAX_MAPPED_BYTES: usize = 64 << 20;

/// The bytes currently mapped, shared by every window of the process.
#[derive(Debug, Default)]
pub struct MappedBudget {
    live: Mutex<usize>,
    freed: Condvar,
}

impl MappedBudget {
    /// Waits until `len` more bytes fit under the cap (or nothing is mapped), then
    /// counts them.
    fn acquire(&self, len: usize) {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        while *live > 0 && live.saturating_add(len) > MAX_MAPPED_BYTES {
            live = self.freed.wait(live).unwrap_or_else(|e| e.into_inner());
        }
        *live = live.saturating_add(len);
    }

    fn release(&self, len: usize) {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        *live = live.saturating_sub(len);
        self.freed.notify_all();
    }

    /// Bytes mapped now.
    #[cfg(test)]
    pub fn live(&self) -> usize {
        *self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A read-only mapping of part of a capture file. Frames in batches keep it alive.
#[derive(Debug)]
pub struct Window {
    ptr: *const u8,
    len: usize,
    budget: Arc<MappedBudget>,
}

// SAFETY: the mapping is read-only (PROT_READ) and private to this Window, which unmaps
// it only in Drop, when no reference to its bytes can remain; sharing `&[u8]` views of
// immutable memory across threads is what Send + Sync require.
unsafe impl Send for Window {}
unsafe impl Sync for Window {}

impl Window {
    /// Maps `len` bytes of `file` from `offset` (a multiple of the page size).
    fn map(file: &File, offset: u64, len: usize, budget: &Arc<MappedBudget>) -> io::Result<Window> {
        budget.acquire(len);
        let off = libc::off_t::try_from(offset).map_err(|_| io::ErrorKind::InvalidInput);
        let ptr = match off {
            // SAFETY: a fresh read-only private mapping of a file descriptor we own; the
            // kernel picks the address, so no existing memory is affected.
            Ok(off) => unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ,
                    // Populate: one syscall fills the page tables from the page cache,
                    // instead of a fault every 16 pages.
                    libc::MAP_PRIVATE | libc::MAP_POPULATE,
                    file.as_raw_fd(),
                    off,
                )
            },
            Err(_) => libc::MAP_FAILED,
        };
        if ptr == libc::MAP_FAILED {
            let err = io::Error::last_os_error();
            budget.release(len);
            return Err(err);
        }
        Ok(Window {
            ptr: ptr as *const u8,
            len,
            budget: budget.clone(),
        })
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: ptr..ptr+len is our live read-only mapping (see `map`); it is unmapped
        // only in Drop, which the borrow of self rules out while the slice lives.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// Where `part` starts inside this window, if it lies wholly within it.
    pub fn offset_of(&self, part: &[u8]) -> Option<usize> {
        let start = (part.as_ptr() as usize).checked_sub(self.ptr as usize)?;
        (start.checked_add(part.len())? <= self.len).then_some(start)
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        let unmap = Unmap {
            addr: self.ptr as usize,
            len: self.len,
            budget: self.budget.clone(),
        };
        // The last holder is usually a worker: hand the page-table teardown (and the
        // TLB shootdowns it sends to every core) to the reaper, off the parse path.
        if let Err(crossbeam_channel::SendError(unmap)) = reaper().send(unmap) {
            unmap.run();
        }
    }
}

/// A mapping to remove, and the budget to credit once it is gone.
struct Unmap {
    addr: usize,
    len: usize,
    budget: Arc<MappedBudget>,
}

impl Unmap {
    fn run(self) {
        // SAFETY: `addr..addr+len` is the mapping `Window::map` created; its Window is
        // being dropped, so no borrow of its bytes remains.
        unsafe {
            libc::munmap(self.addr as *mut libc::c_void, self.len);
        }
        self.budget.release(self.len);
    }
}

/// Unmappings queued for the reaper before a dropping thread waits for it: allocated
/// once, so handing a window over never allocates.
const REAPER_QUEUE: usize = 64;

/// The process's unmapping thread, started on first use. It waits for nothing but its
/// queue, so a reader waiting on the budget, or a worker waiting for room in the queue,
/// is always released.
fn reaper() -> &'static crossbeam_channel::Sender<Unmap> {
    static REAPER: OnceLock<crossbeam_channel::Sender<Unmap>> = OnceLock::new();
    REAPER.get_or_init(|| {
        let (tx, rx) = crossbeam_channel::bounded::<Unmap>(REAPER_QUEUE);
        let spawned = std::thread::Builder::new()
            .name("c2tap-unmap".into())
            .spawn(move || {
                for unmap in rx {
                    unmap.run();
                }
            });
        // Without the thread the receiver is gone, sends fail, and windows unmap
        // where they are dropped.
        drop(spawned);
        tx
    })
}

/// A regular file read through windows: the same "n bytes at the front" interface as the
/// buffered reader, over mapped memory.
pub(super) struct MappedInput {
    file: File,
    /// The file's size when last looked at (a file still being written may grow).
    file_len: u64,
    window: Option<Arc<Window>>,
    /// File offset of the window's first byte.
    window_off: u64,
    /// Offset of the first unconsumed byte in the window (the file offset is
    /// `window_off + at`).
    at: usize,
    budget: Arc<MappedBudget>,
    page: u64,
}

impl MappedInput {
    /// Maps the start of `file`, or hands the file back when it cannot be mapped (a
    /// filesystem without mmap support): the caller then reads it instead.
    pub fn open(
        file: File,
        file_len: u64,
        budget: Arc<MappedBudget>,
        bytes_read: &mut u64,
    ) -> Result<MappedInput, File> {
        let mut input = MappedInput::new(file, file_len, budget);
        match input.fill(1, bytes_read) {
            Ok(_) => Ok(input),
            Err(_) => Err(input.file),
        }
    }

    pub fn new(file: File, file_len: u64, budget: Arc<MappedBudget>) -> MappedInput {
        install_sigbus_message();
        // SAFETY: sysconf has no memory effects.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        MappedInput {
            file,
            file_len,
            window: None,
            window_off: 0,
            at: 0,
            budget,
            page: u64::try_from(page).ok().filter(|p| *p > 0).unwrap_or(4096),
        }
    }

    pub fn offset(&self) -> u64 {
        self.window_off + self.at as u64
    }

    #[inline]
    pub fn avail(&self) -> &[u8] {
        match &self.window {
            Some(w) => w.bytes().get(self.at..).unwrap_or(&[]),
            None => &[],
        }
    }

    /// The window `avail()` lies in.
    pub fn window(&self) -> Option<&Arc<Window>> {
        self.window.as_ref()
    }

    pub fn consume(&mut self, n: usize) {
        self.at += n.min(self.avail().len());
    }

    /// Makes `n` bytes available at the front, mapping a new window from the current
    /// position when the present one ends too soon. `Ok(false)` when the file ends first.
    #[inline]
    pub fn fill(&mut self, n: usize, bytes_read: &mut u64) -> io::Result<bool> {
        if self.avail().len() >= n {
            return Ok(true);
        }
        self.map_next(n, bytes_read)
    }

    /// The slow half of `fill`: maps the window that holds the next `n` bytes.
    #[inline(never)]
    fn map_next(&mut self, n: usize, bytes_read: &mut u64) -> io::Result<bool> {
        let pos = self.offset();
        let want_end = pos.saturating_add(n as u64);
        if want_end > self.file_len {
            // A file still being written may have grown since we looked.
            self.file_len = self.file.metadata()?.len();
        }
        let start = pos - pos % self.page;
        let end = start
            .saturating_add(WINDOW_BYTES as u64)
            .max(want_end)
            .min(self.file_len);
        let have_end = self.window_off + self.window.as_ref().map_or(0, |w| w.len as u64);
        if end <= have_end.max(start) {
            // Nothing more to map: the file ends inside the present window (or, shrunk,
            // before the position).
            return Ok(false);
        }
        // Release the old window before mapping the next, so the budget counts it free
        // as soon as the workers are done with it.
        self.window = None;
        let len = usize::try_from(end - start).map_err(|_| io::ErrorKind::InvalidInput)?;
        let window = Window::map(&self.file, start, len, &self.budget)?;
        *bytes_read += end.saturating_sub(have_end.max(start));
        self.window = Some(Arc::new(window));
        self.window_off = start;
        self.at = usize::try_from(pos - start).unwrap_or(usize::MAX);
        Ok(self.avail().len() >= n)
    }
}

/// Installs, once per process, a SIGBUS handler that prints why and exits 1: SIGBUS here
/// means a mapped capture file shrank under us (another process truncated it).
pub fn install_sigbus_message() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        extern "C" fn on_sigbus(_: libc::c_int) {
            const MSG: &[u8] = b"c2tap: bus error reading a capture file: was it truncated \
                while being replayed?\n";
            // SAFETY: write(2) and _exit(2) are async-signal-safe; MSG is static.
            unsafe {
                libc::write(2, MSG.as_ptr().cast(), MSG.len());
                libc::_exit(1);
            }
        }
        // SAFETY: a zeroed sigaction is valid; we set the handler and an empty mask, and
        // the handler only calls async-signal-safe functions.
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_sigbus as *const () as usize;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(libc::SIGBUS, &act, std::ptr::null_mut());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_of(data: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut t = tempfile::NamedTempFile::new().unwrap();
        t.write_all(data).unwrap();
        t.flush().unwrap();
        let f = File::open(t.path()).unwrap();
        (t, f)
    }

    #[test]
    fn windows_follow_the_position_and_records_never_straddle() {
        let data: Vec<u8> = (0..WINDOW_BYTES * 2 + 1000)
            .map(|i| (i % 251) as u8)
            .collect();
        let (_t, f) = file_of(&data);
        let budget = Arc::new(MappedBudget::default());
        let mut inp = MappedInput::new(f, data.len() as u64, budget.clone());
        let mut read = 0;
        assert!(inp.fill(16, &mut read).unwrap());
        assert_eq!(inp.avail().len(), WINDOW_BYTES);
        // A "record" crossing the window's end gets a new window starting at (the page
        // of) the position, so it is contiguous.
        inp.consume(WINDOW_BYTES - 10);
        assert!(inp.fill(100, &mut read).unwrap());
        let pos = WINDOW_BYTES - 10;
        assert_eq!(&inp.avail()[..100], &data[pos..pos + 100]);
        let w = inp.window().unwrap().clone();
        let at = w.offset_of(&inp.avail()[..100]).unwrap();
        assert_eq!(&w.bytes()[at..at + 100], &data[pos..pos + 100]);
        assert!(w.offset_of(&data[..4]).is_none(), "not inside the window");
        // To the end, then no further.
        let rest = data.len() - pos;
        assert!(inp.fill(rest, &mut read).unwrap());
        inp.consume(rest);
        assert!(!inp.fill(1, &mut read).unwrap());
        assert_eq!(inp.offset(), data.len() as u64);
        assert_eq!(read, data.len() as u64, "each byte counted once");
        drop(inp);
        let held = w.bytes().len();
        wait_for_live(&budget, held);
        assert_eq!(budget.live(), held, "a held window stays mapped");
        drop(w);
        wait_for_live(&budget, 0);
    }

    /// Windows are unmapped by the reaper thread: waits (a few seconds at most) for the
    /// budget to come down to `want`, then checks it.
    fn wait_for_live(budget: &MappedBudget, want: usize) {
        for _ in 0..500 {
            if budget.live() == want {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(budget.live(), want, "the reaper never released the window");
    }

    #[test]
    fn unmappable_file_is_handed_back() {
        // A pipe stands in for a filesystem without mmap: mmap(2) fails on it (ENODEV).
        let (r, w) = std::io::pipe().unwrap();
        drop(w);
        let f = File::from(std::os::fd::OwnedFd::from(r));
        let mut read = 0;
        let back = MappedInput::open(f, 10, Arc::new(MappedBudget::default()), &mut read);
        assert!(back.is_err(), "a pipe cannot be mapped");
        assert_eq!(read, 0);
    }

    #[test]
    fn short_file_reports_what_there_is() {
        let (_t, f) = file_of(b"0123456789");
        let mut inp = MappedInput::new(f, 10, Arc::new(MappedBudget::default()));
        let mut read = 0;
        assert!(!inp.fill(11, &mut read).unwrap());
        assert_eq!(inp.avail(), b"0123456789");
    }

    #[test]
    fn budget_waits_for_a_release() {
        let budget = Arc::new(MappedBudget::default());
        budget.acquire(MAX_MAPPED_BYTES);
        let b2 = budget.clone();
        let t = std::thread::spawn(move || b2.acquire(1));
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!t.is_finished(), "over the cap: waits");
        budget.release(MAX_MAPPED_BYTES);
        t.join().unwrap();
        assert_eq!(budget.live(), 1);
    }
}
