//! Where reports go: a file or standard output, written on a thread of its own.
//!
//! A report of every flow is large (the JSON Lines of a 650,000-flow capture is 1.7 GB), and
//! by the time it is written the analysis is done and the second core idle. The renderer fills
//! one block while the thread hands the one before to the kernel, so formatting and the
//! kernel's copy into the page cache overlap instead of taking turns.

use std::io::{self, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Bytes a block holds before it goes to the writing thread.
const BLOCK: usize = 1 << 20;
/// Blocks on their way at once: bounds the memory the writer holds to a few MB.
const IN_FLIGHT: usize = 4;

/// A writer whose bytes reach `W` on another thread. [`BackgroundWriter::finish`] waits for
/// the last byte and returns the first error the thread met (a closed pipe, a full disk).
pub struct BackgroundWriter {
    block: Vec<u8>,
    to_thread: Option<SyncSender<Vec<u8>>>,
    emptied: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl BackgroundWriter {
    pub fn new<W: Write + Send + 'static>(mut out: W) -> BackgroundWriter {
        let (to_thread, blocks) = sync_channel::<Vec<u8>>(IN_FLIGHT);
        let (give_back, emptied) = sync_channel::<Vec<u8>>(IN_FLIGHT + 1);
        let thread = std::thread::spawn(move || -> io::Result<()> {
            for mut block in blocks {
                out.write_all(&block)?;
                block.clear();
                // The renderer may have finished: the block is then dropped.
                let _ = give_back.try_send(block);
            }
            out.flush()
        });
        BackgroundWriter {
            block: Vec::with_capacity(BLOCK),
            to_thread: Some(to_thread),
            emptied,
            thread: Some(thread),
        }
    }

    /// Sends the block being filled; an error when the thread has stopped (its own error is
    /// what [`Self::finish`] returns).
    fn send(&mut self) -> io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let next = self
            .emptied
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BLOCK));
        let full = std::mem::replace(&mut self.block, next);
        match &self.to_thread {
            Some(tx) if tx.send(full).is_ok() => Ok(()),
            _ => Err(self.stopped()),
        }
    }

    /// The thread's error, once it has stopped.
    fn stopped(&mut self) -> io::Error {
        self.to_thread = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            Some(Err(_)) => io::Error::other("the output thread failed"),
            _ => io::Error::other("the output was already closed"),
        }
    }

    /// Writes what is left and waits for the thread: the report is complete when this
    /// returns `Ok`.
    pub fn finish(mut self) -> io::Result<()> {
        self.send()?;
        self.to_thread = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(done)) => done,
            Some(Err(_)) => Err(io::Error::other("the output thread failed")),
            None => Ok(()),
        }
    }
}

impl Write for BackgroundWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.block.extend_from_slice(buf);
        if self.block.len() >= BLOCK {
            self.send()?;
        }
        Ok(buf.len())
    }

    /// Hands the bytes so far to the thread; [`Self::finish`] is what waits for them.
    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

impl Drop for BackgroundWriter {
    fn drop(&mut self) {
        // Unfinished (an error on the way): stop the thread without waiting on its writes.
        self.to_thread = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer that keeps what it is given, or fails after `limit` bytes.
    #[derive(Clone)]
    struct Kept {
        bytes: Arc<Mutex<Vec<u8>>>,
        limit: usize,
    }

    impl Write for Kept {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut b = self
                .bytes
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?;
            if b.len() + buf.len() > self.limit {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"));
            }
            b.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_byte_arrives_in_order() {
        let kept = Kept {
            bytes: Arc::default(),
            limit: usize::MAX,
        };
        let mut w = BackgroundWriter::new(kept.clone());
        let mut expected = Vec::new();
        for i in 0..300_000u32 {
            let line = format!("line {i}\n");
            w.write_all(line.as_bytes()).expect("write");
            expected.extend_from_slice(line.as_bytes());
        }
        w.finish().expect("finish");
        assert_eq!(*kept.bytes.lock().expect("lock"), expected);
    }

    #[test]
    fn the_threads_error_reaches_the_renderer() {
        let kept = Kept {
            bytes: Arc::default(),
            limit: 3 * BLOCK,
        };
        let mut w = BackgroundWriter::new(kept);
        let line = [b'x'; 1000];
        let mut failed = None;
        for _ in 0..20_000 {
            if let Err(e) = w.write_all(&line) {
                failed = Some(e);
                break;
            }
        }
        let e = match failed {
            Some(e) => e,
            None => w.finish().expect_err("the writer stopped"),
        };
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe, "{e}");
    }
}
