//! Turning what the user named (`-r FILE`, several, a directory, `-` for standard input) into
//! capture readers, unwrapping gzip on the way.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::capture::{CaptureReader, OpenError};
use super::format::{detect, Detected};

/// One input named on the command line, after directories were expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSpec {
    Stdin,
    File(PathBuf),
}

impl InputSpec {
    /// The name used in messages and reports.
    pub fn display_name(&self) -> String {
        match self {
            InputSpec::Stdin => "<stdin>".to_string(),
            InputSpec::File(p) => p.display().to_string(),
        }
    }
}

/// A problem with a named input, before any packet could be read from it.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct InputError {
    pub name: String,
    pub problem: InputProblem,
}

#[derive(Debug, thiserror::Error)]
pub enum InputProblem {
    #[error("no such file or directory (check the path given to -r)")]
    NotFound,
    #[error("cannot be read: {0}")]
    Io(io::Error),
    #[error("the directory holds no files")]
    EmptyDirectory,
    #[error("{0}")]
    Open(#[from] OpenError),
}

/// Expands `-r` arguments: `-` is standard input; a directory stands for the regular files
/// directly inside it, sorted by name (hidden files skipped).
pub fn expand(args: &[String]) -> Result<Vec<InputSpec>, InputError> {
    let mut out = Vec::new();
    for arg in args {
        if arg == "-" {
            out.push(InputSpec::Stdin);
            continue;
        }
        let path = Path::new(arg);
        let err = |problem| InputError {
            name: arg.clone(),
            problem,
        };
        let meta = std::fs::metadata(path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                err(InputProblem::NotFound)
            } else {
                err(InputProblem::Io(e))
            }
        })?;
        if meta.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| err(InputProblem::Io(e)))?
                .filter_map(Result::ok)
                .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| e.path())
                .collect();
            if files.is_empty() {
                return Err(err(InputProblem::EmptyDirectory));
            }
            files.sort();
            out.extend(files.into_iter().map(InputSpec::File));
        } else {
            out.push(InputSpec::File(path.to_path_buf()));
        }
    }
    Ok(out)
}

/// Size in bytes of a file input (for progress), if known.
pub fn input_size(spec: &InputSpec) -> Option<u64> {
    match spec {
        InputSpec::Stdin => None,
        InputSpec::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
    }
}

/// A reader over any byte source.
pub type DynRead = Box<dyn Read + Send>;

/// Opens one input as a capture. `wrap` lets the caller observe the raw bytes read (progress).
pub fn open(
    spec: &InputSpec,
    wrap: impl FnOnce(DynRead) -> DynRead,
) -> Result<CaptureReader<DynRead>, InputError> {
    let name = spec.display_name();
    let err = |problem| InputError {
        name: name.clone(),
        problem,
    };
    let raw: DynRead = match spec {
        InputSpec::Stdin => Box::new(io::stdin()),
        InputSpec::File(p) => Box::new(File::open(p).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                err(InputProblem::NotFound)
            } else {
                err(InputProblem::Io(e))
            }
        })?),
    };
    open_stream(&name, wrap(raw))
}

/// Opens a byte stream already at hand as a capture (pcap, pcapng, either gzip-wrapped), as
/// [`open`] does a named input; `name` is used in the error.
pub fn open_stream(name: &str, raw: DynRead) -> Result<CaptureReader<DynRead>, InputError> {
    let err = |problem| InputError {
        name: name.to_string(),
        problem,
    };
    let (head, rest) = peek(raw, 4).map_err(|e| err(InputProblem::Io(e)))?;
    let stream: DynRead = if detect(&head) == Detected::Gzip {
        let gz = MultiGzDecoder::new(BufReader::new(Cursor::new(head).chain(rest)));
        let (inner_head, inner_rest) =
            peek(Box::new(gz), 4).map_err(|e| err(InputProblem::Open(OpenError::Gzip(e))))?;
        Box::new(Cursor::new(inner_head).chain(inner_rest))
    } else {
        Box::new(Cursor::new(head).chain(rest))
    };
    CaptureReader::open(stream).map_err(|e| err(InputProblem::Open(e)))
}

/// Reads up to `n` bytes from the front of a stream and hands back both parts.
fn peek(mut r: DynRead, n: usize) -> io::Result<(Vec<u8>, DynRead)> {
    let mut head = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match r.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    Ok((head, r))
}
